"""The dashboard as people use it: the last complete day by default, alerts of the outlets shown (paged), and a
trend chart that stays readable."""
from __future__ import annotations

import datetime as dt
import re

from greenshield.compliance.charts import LABEL_WIDTH, date_label_indices, trend_svg
from models import Alert, AlertStatus
from models.base import china_today


def test_the_league_table_shows_yesterday_in_china_unless_another_day_is_chosen(client, make_user, login):
    login(client, make_user("admin"))
    yesterday = china_today() - dt.timedelta(days=1)
    page = client.get("/dashboard/").get_data(as_text=True)
    assert f'name="date" value="{yesterday}"' in page and 'id="default-day"' in page
    chosen = client.get("/dashboard/?date=2026-11-01").get_data(as_text=True)
    assert 'name="date" value="2026-11-01"' in chosen and 'id="default-day"' not in chosen


def _alerts(session, outlet, count):
    for n in range(count):
        session.add(Alert(outlet_id=outlet.id, day=dt.date(2026, 11, 1) + dt.timedelta(days=n), metric="real_name",
                          rate=0.9, threshold=0.998, status=AlertStatus.OPEN))
    session.flush()


def test_alerts_follow_the_region_and_enterprise_filter_and_are_paged(client, session, make_user, make_outlet, login):
    hohhot, baotou = make_outlet("ALR-HH-01", region="150100"), make_outlet("ALR-BT-01", region="150200",
                                                                            enterprise="EMS")
    _alerts(session, hohhot, 25)
    _alerts(session, baotou, 3)
    login(client, make_user("admin"))
    everything = client.get("/dashboard/").get_data(as_text=True)
    alerts = everything.split('id="alerts"')[1].split("</table>")[0]
    assert alerts.count("<tr>") == 1 + 20 and 'id="alert-pages"' in everything
    assert "第 1 页，共 2 页" in everything
    second = client.get("/dashboard/?alerts_page=2").get_data(as_text=True)
    assert second.split('id="alerts"')[1].split("</table>")[0].count("<tr>") == 1 + 8
    in_baotou = client.get("/dashboard/?region=150200").get_data(as_text=True)
    table = in_baotou.split('id="alerts"')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 3 and "ALR-BT-01" in table and "ALR-HH-01" not in table
    assert 'id="alert-pages"' not in in_baotou
    of_ems = client.get("/dashboard/?enterprise=EMS").get_data(as_text=True).split('id="alerts"')[1]
    assert "ALR-HH-01" not in of_ems.split("</table>")[0]


def test_date_labels_never_overlap_and_keep_the_first_and_last_day():
    for count in range(1, 120):
        chosen = date_label_indices(count, 804)
        assert chosen[0] == 0 and chosen[-1] == count - 1
        spacing = 804 / max(1, count - 1)
        assert all((b - a) * spacing >= LABEL_WIDTH for a, b in zip(chosen, chosen[1:])), count


def test_the_chart_has_a_legend_distinct_lines_and_a_threshold_label_no_line_crosses():
    days = [{"date": dt.date(2026, 11, 1) + dt.timedelta(days=n), "real_name_rate": 0.99, "inspection_rate": 0.99,
             "xray_rate": 0.99} for n in range(30)]  # all three rates coincide
    labels = {"title": "t", "threshold": "阈值", "real_name_rate": "实名率", "inspection_rate": "验视率",
              "xray_rate": "过机率"}
    svg = trend_svg(days, 0.998, labels)
    assert svg.count('class="legend"') == 4 and "阈值 99.8%" in svg
    lines = re.findall(r'<polyline class="series (\w+)"[^>]*stroke="([^"]+)" stroke-width="([\d.]+)"', svg)
    assert len({colour for _, colour, _ in lines}) == 3 and len({width for *_, width in lines}) == 3
    assert [key for key, *_ in lines] == ["real_name_rate", "inspection_rate", "xray_rate"]  # widest first
    label_x = float(re.search(r'class="threshold-label" x="([\d.]+)"', svg)[1])
    assert label_x <= 60  # in the left margin, outside the plot where the lines run


def _sheet(response) -> list[list]:
    import io

    import openpyxl

    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet"), response.status_code
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()), read_only=True)
    return [list(row) for row in book.active.iter_rows(values_only=True)]


def test_lists_download_as_excel_for_people(client, session, make_user, make_outlet, login):
    make_outlet("XLS-HH-01", kind="sorting_centre")
    login(client, make_user("admin"))
    outlets = _sheet(client.get("/registry/outlets?format=xlsx"))
    assert outlets[0][:2] == ["编码", "名称"] and outlets[0][-1] == "状态"
    row = next(r for r in outlets if r[0] == "XLS-HH-01")
    assert "分拨中心" in row and "启用" in row
    league = _sheet(client.get("/dashboard/?format=xlsx&date=2026-11-01"))
    assert league[0][:3] == ["网点编码", "网点", "寄递企业"] and any(r[0] == "XLS-HH-01" and r[3] == "否" for r in league)
    log = _sheet(client.get("/access-log?format=xlsx"))
    assert log[0][:4] == ["序号", "时间", "用户", "角色"]
