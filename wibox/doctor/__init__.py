"""`wibox doctor`: the on-site check of a station — ports, boards, sensors, camera, disk, clock, hub, services."""
