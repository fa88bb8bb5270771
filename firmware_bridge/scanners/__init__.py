"""Code scanners: camera decoding (zxing-cpp, pyzbar), wedge and serial scanner devices, one scan stream.

Modules: hub (ScanHub, status), camera (CameraScanner), chain/decoders/variants (decoding), live/gate/motion/rate
(the camera loop's budget: fallbacks only where they can pay off, a low frame rate when idle), wedge/keymaps
(keyboard-wedge scanners), serial_scanner (serial/USB-CDC scanners), cli (`wibox decode`, `wibox scan`).
Kept free of imports so `wibox --help` does not load OpenCV.
"""
