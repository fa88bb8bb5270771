"""The policy page: every city role reads the four types' policies, a city admin changes one, bad input changes
nothing."""

from __future__ import annotations

from tests.hub_city.conftest import Hub


def test_admin_sets_a_types_policy_on_the_page_and_others_only_read(hub: Hub) -> None:
    admin = hub.login(hub.a.admin_user)
    page = admin.get("/admin/policy")
    assert page.status_code == 200 and "passport" in page.text and "certificate" in page.text
    form = {"second_factor": "date_of_birth", "statement": "statement.passport", "old_document_return": "1"}
    r = admin.post("/admin/policy/passport", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    listed = {p["document_type"]: p for p in admin.get("/api/v1/document-policies").json()}
    assert listed["passport"] == {"document_type": "passport", **form, "old_document_return": True}
    bad = admin.post("/admin/policy/passport", data={**form, "statement": "Not valid!"}, follow_redirects=False)
    assert bad.status_code == 422
    assert admin.post("/admin/policy/visa", data=form, follow_redirects=False).status_code == 422
    monitor = hub.login(hub.a.monitor_user)
    assert monitor.get("/admin/policy").status_code == 200
    assert monitor.post("/admin/policy/passport", data=form, follow_redirects=False).status_code == 403
    again = {p["document_type"]: p for p in admin.get("/api/v1/document-policies").json()}
    assert again == listed
    other = hub.login(hub.b.admin_user)  # city beta's policies are its own
    beta = {p["document_type"]: p for p in other.get("/api/v1/document-policies").json()}
    assert beta["passport"]["second_factor"] == "none"
