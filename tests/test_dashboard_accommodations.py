"""The Accommodations page: an admin sets a student's accommodations through the form; the
record is stored (student as keyed hash, admin as author) and the change history shows it."""

from __future__ import annotations

from proctorlake.core.accommodations import Accommodation
from proctorlake.services import accommodations
from proctorlake.storage import lake
from tests.fixtures.lakehouse import signed_in_app


def test_an_admin_sets_accommodations_in_the_page(lakehouse):
    settings = lakehouse.settings
    app = signed_in_app("alice", "views/accommodations.py")
    assert [i.value for i in app.info] == ["Choose an exam and enter a student id."]
    app.selectbox(key="acc_exam").set_value("calc-101")
    app.text_input(key="acc_student").input("s-ana").run()
    assert not app.exception, app.exception
    assert "**Current:** none" in [m.value for m in app.markdown]

    app.multiselect[0].set_value(["gaze_away"])
    app.number_input[0].set_value(2)  # breaks allowed
    app.number_input(key="thr_face_not_visible").set_value(20)
    app.button[0].click().run()  # the form's submit button
    assert not app.exception, app.exception

    expected = Accommodation(("gaze_away",), 2, 600, {"face_not_visible": 20})
    assert app.success[0].value == (
        "Saved for s-ana in calc-101: exempt: gaze_away; 2 break(s) of 10 min; "
        "face_not_visible only after 20 s."
    )
    (change,) = accommodations.accommodation_history(settings, "uni-north", "calc-101", "s-ana")
    assert (change.accommodation, change.set_by) == (expected, "alice")
    assert app.dataframe[0].value["set_by"].tolist() == ["alice"]
    # another institution's admin does not see it, and the id itself is never stored
    assert accommodations.current_accommodation(settings, "uni-south", "calc-101", "s-ana") == (
        Accommodation()
    )
    assert "s-ana" not in str(lake.read_table(settings, "accommodations").to_pylist())
