"""Linux input event devices (/dev/input/event*) read in pure Python: no C extension, so no compiler on a Pi.

Modules: codes (event types and key codes from linux/input-event-codes.h), events (struct input_event and the
ioctl numbers), device (InputDevice: open, read with a timeout, grab with EVIOCGRAB), errors.
"""
