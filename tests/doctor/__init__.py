"""`wibox doctor` against simulated stations: a sound one, a broken one, one whose daemon runs."""
