"""The composition root: the `wibox` command, the station's wiring (`build_station`) and the demo."""
