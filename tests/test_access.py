"""Every route x every role: who may call what. A new route without an entry here fails the suite."""
from __future__ import annotations

import pytest

from greenshield.auth.policy import PUBLIC, roles_of

ADMIN, INSPECTOR, MANAGER, INVESTIGATOR, AUDITOR = "admin", "inspector", "outlet_manager", "investigator", "auditor"
ROLES = (ADMIN, INSPECTOR, MANAGER, INVESTIGATOR, AUDITOR)
READERS = {ADMIN, INSPECTOR, MANAGER}
EVERYONE = set(ROLES)
PUBLIC_ROUTE = "public"

OUTLET = "ACC-OUT-1"
# (method, rule) -> (who may call it, a concrete path, a JSON body or None)
ROUTES: dict[tuple[str, str], tuple[set[str] | str, str, dict | None]] = {
    ("GET", "/healthz"): (PUBLIC_ROUTE, "/healthz", None),
    ("GET", "/metrics"): ({ADMIN}, "/metrics", None),
    ("GET", "/login"): (PUBLIC_ROUTE, "/login", None),
    ("POST", "/login"): (PUBLIC_ROUTE, "/login", None),
    ("POST", "/logout"): (EVERYONE, "/logout", None),
    ("POST", "/lang/<code>"): (PUBLIC_ROUTE, "/lang/en", None),
    ("GET", "/"): (EVERYONE, "/", None),
    ("GET", "/api/v1/openapi.json"): (PUBLIC_ROUTE, "/api/v1/openapi.json", None),
    ("GET", "/api/v1/me"): (EVERYONE, "/api/v1/me", None),
    ("GET", "/api/v1/tokens"): (EVERYONE, "/api/v1/tokens", None),
    ("POST", "/api/v1/tokens"): (EVERYONE, "/api/v1/tokens", {"days": 1}),
    ("DELETE", "/api/v1/tokens/<int:token_id>"): (EVERYONE, "/api/v1/tokens/999999", None),
    ("GET", "/api/v1/users"): ({ADMIN}, "/api/v1/users", None),
    ("POST", "/api/v1/users"): ({ADMIN}, "/api/v1/users", {"username": "acc_new", "password": "long-enough-pw",
                                                           "role": "auditor"}),
    ("GET", "/api/v1/users/<username>"): ({ADMIN}, "/api/v1/users/acc_admin", None),
    ("PATCH", "/api/v1/users/<username>"): ({ADMIN}, "/api/v1/users/acc_auditor", {"display_name": "x"}),
    ("GET", "/api/v1/admin-actions"): ({ADMIN, AUDITOR}, "/api/v1/admin-actions", None),
    ("GET", "/account/password"): (EVERYONE, "/account/password", None),
    ("POST", "/account/password"): (EVERYONE, "/account/password", None),
    ("GET", "/admin/users"): ({ADMIN}, "/admin/users?q=acc", None),
    ("GET", "/admin/users/new"): ({ADMIN}, "/admin/users/new", None),
    ("POST", "/admin/users/new"): ({ADMIN}, "/admin/users/new", None),
    ("GET", "/admin/users/<username>"): ({ADMIN}, "/admin/users/acc_auditor", None),
    ("POST", "/admin/users/<username>"): ({ADMIN}, "/admin/users/acc_auditor", None),
    ("POST", "/admin/users/<username>/active"): ({ADMIN}, "/admin/users/acc_auditor/active", {"active": "1"}),
    ("POST", "/admin/users/<username>/unlock"): ({ADMIN}, "/admin/users/acc_auditor/unlock", None),
    ("POST", "/admin/users/<username>/sign-out"): ({ADMIN}, "/admin/users/acc_auditor/sign-out", None),
    ("POST", "/admin/users/<username>/password"): ({ADMIN}, "/admin/users/acc_auditor/password", None),
    ("POST", "/admin/users/<username>/tokens/<int:token_id>/revoke"): (
        {ADMIN}, "/admin/users/acc_auditor/tokens/999999/revoke", None),
    ("GET", "/admin/actions"): ({ADMIN, AUDITOR}, "/admin/actions", None),
    ("GET", "/api/v1/outlets"): (READERS, "/api/v1/outlets", None),
    ("POST", "/api/v1/outlets"): ({ADMIN}, "/api/v1/outlets", {"code": "ACC-NEW", "name": "n", "enterprise_code": "SF",
                                                               "region_code": "150100"}),
    ("GET", "/api/v1/outlets/<code>"): (READERS, f"/api/v1/outlets/{OUTLET}", None),
    ("PATCH", "/api/v1/outlets/<code>"): ({ADMIN}, f"/api/v1/outlets/{OUTLET}", {"name": "renamed"}),
    ("GET", "/api/v1/xray-machines"): (READERS, "/api/v1/xray-machines", None),
    ("POST", "/api/v1/xray-machines"): ({ADMIN}, "/api/v1/xray-machines", {"code": "ACC-X9", "outlet_code": OUTLET,
                                                                           "model": "m", "installed_on": "2025-01-01"}),
    ("GET", "/api/v1/xray-machines/<code>"): (READERS, "/api/v1/xray-machines/ACC-X1", None),
    ("PATCH", "/api/v1/xray-machines/<code>"): ({ADMIN}, "/api/v1/xray-machines/ACC-X1", {"model": "m2"}),
    ("GET", "/api/v1/staff"): (READERS, "/api/v1/staff", None),
    ("POST", "/api/v1/staff"): ({ADMIN}, "/api/v1/staff", {"staff_id": "ACC-C9", "name": "张三", "outlet_code": OUTLET,
                                                           "role": "courier"}),
    ("GET", "/api/v1/staff/<staff_id>"): (READERS, "/api/v1/staff/ACC-C1", None),
    ("PATCH", "/api/v1/staff/<staff_id>"): ({ADMIN}, "/api/v1/staff/ACC-C1", {"name": "李四"}),
    ("GET", "/api/v1/contract-customers"): (READERS, "/api/v1/contract-customers", None),
    ("POST", "/api/v1/contract-customers"): ({ADMIN}, "/api/v1/contract-customers", {
        "code": "ACC-CC9", "name": "n", "credit_code": "91350100M000100Y43", "outlet_code": OUTLET,
        "filed_on": "2025-01-01", "valid_until": "2027-01-01"}),
    ("GET", "/api/v1/contract-customers/<code>"): (READERS, "/api/v1/contract-customers/ACC-CC1", None),
    ("PATCH", "/api/v1/contract-customers/<code>"): ({ADMIN}, "/api/v1/contract-customers/ACC-CC1", {"name": "n2"}),
    ("GET", "/api/v1/enterprises"): (READERS, "/api/v1/enterprises", None),
    ("POST", "/api/v1/enterprises"): ({ADMIN}, "/api/v1/enterprises", {"code": "ACCX", "name": "n"}),
    ("GET", "/api/v1/regions"): (READERS, "/api/v1/regions", None),
    ("GET", "/api/v1/id-types"): (READERS, "/api/v1/id-types", None),
    ("GET", "/api/v1/prohibited-categories"): (READERS | {INVESTIGATOR}, "/api/v1/prohibited-categories", None),
    ("POST", "/api/v1/outlets/<code>/daily-logs"): ({ADMIN, MANAGER}, f"/api/v1/outlets/{OUTLET}/daily-logs", None),
    ("GET", "/api/v1/batches"): (READERS, "/api/v1/batches", None),
    ("GET", "/api/v1/batches/<int:batch_id>"): (READERS, "/api/v1/batches/999999", None),
    ("GET", "/api/v1/batches/<int:batch_id>/errors"): (READERS, "/api/v1/batches/999999/errors", None),
    ("GET", "/api/v1/daily-log-template"): (READERS, "/api/v1/daily-log-template?format=csv", 200),
    ("GET", "/api/v1/outlets/<code>/records/<waybill_no>"): (READERS, f"/api/v1/outlets/{OUTLET}/records/SF123456789",
                                                             None),
    ("GET", "/api/v1/compliance/outlets/<code>"): (
        READERS, f"/api/v1/compliance/outlets/{OUTLET}?from=2026-11-01&to=2026-11-30", None),
    ("GET", "/api/v1/compliance/summary"): (READERS, "/api/v1/compliance/summary?date=2026-11-20", None),
    ("GET", "/api/v1/compliance/rollup"): (READERS, "/api/v1/compliance/rollup?by=region&from=2026-11-01&to=2026-11-30",
                                           None),
    ("GET", "/api/v1/findings"): ({ADMIN, INSPECTOR}, "/api/v1/findings", None),
    ("GET", "/api/v1/alerts"): (READERS, "/api/v1/alerts?status=open", None),
    ("POST", "/api/v1/audit-plans"): ({ADMIN, INSPECTOR}, "/api/v1/audit-plans", {"region_code": "150100",
                                                                               "outlets": 1, "due_date": "2026-12-20"}),
    ("GET", "/api/v1/audit-plans/<int:plan_id>"): ({ADMIN, INSPECTOR, AUDITOR}, "/api/v1/audit-plans/999999", None),
    ("GET", "/api/v1/audit-plans/<int:plan_id>/verify"): ({ADMIN, INSPECTOR, AUDITOR}, "/api/v1/audit-plans/999999/verify",
                                                          None),
    ("GET", "/api/v1/audit-schedules"): ({ADMIN, INSPECTOR}, "/api/v1/audit-schedules", None),
    ("POST", "/api/v1/audit-schedules"): ({ADMIN, INSPECTOR}, "/api/v1/audit-schedules", {
        "cron": "0 8 1 * *", "region_code": "150100", "outlets": 1}),
    ("PATCH", "/api/v1/audit-schedules/<int:schedule_id>"): ({ADMIN, INSPECTOR}, "/api/v1/audit-schedules/999999",
                                                             {"active": False}),
    ("GET", "/api/v1/audits"): (READERS, "/api/v1/audits", None),
    ("GET", "/api/v1/audits/<int:audit_id>"): (READERS, "/api/v1/audits/999999", None),
    ("PUT", "/api/v1/audits/<int:audit_id>/checklist/<item>"): ({ADMIN, INSPECTOR},
                                                                "/api/v1/audits/999999/checklist/rules_posted",
                                                                {"compliant": True}),
    ("POST", "/api/v1/audits/<int:audit_id>/checklist/<item>/photos"): (
        {ADMIN, INSPECTOR}, "/api/v1/audits/999999/checklist/rules_posted/photos", None),
    ("GET", "/api/v1/audit-photos/<int:photo_id>"): (READERS, "/api/v1/audit-photos/999999", None),
    ("POST", "/api/v1/audits/<int:audit_id>/close"): ({ADMIN, INSPECTOR}, "/api/v1/audits/999999/close",
                                                      {"result": "pass"}),
    ("POST", "/api/v1/audits/<int:audit_id>/publish"): ({ADMIN, INSPECTOR}, "/api/v1/audits/999999/publish", None),
    ("GET", "/api/v1/rectification-orders"): (READERS, "/api/v1/rectification-orders", None),
    ("POST", "/api/v1/rectification-orders/<int:order_id>/response"): (
        {MANAGER}, "/api/v1/rectification-orders/999999/response", {"response": "done"}),
    ("GET", "/audits"): ({ADMIN, INSPECTOR}, "/audits", None),
    ("GET", "/audits/plan"): ({ADMIN, INSPECTOR}, "/audits/plan", None),
    ("POST", "/audits/plan"): ({ADMIN, INSPECTOR}, "/audits/plan", None),
    ("GET", "/audits/plans/<int:plan_id>"): ({ADMIN, INSPECTOR, AUDITOR}, "/audits/plans/999999", None),
    ("GET", "/audits/<int:audit_id>"): (READERS, "/audits/999999", None),
    ("POST", "/audits/<int:audit_id>"): (READERS, "/audits/999999", None),
    ("GET", "/orders"): (READERS, "/orders", None),
    ("GET", "/orders/<int:order_id>"): (READERS, "/orders/999999", None),
    ("POST", "/orders/<int:order_id>"): (READERS, "/orders/999999", None),
    ("GET", "/absences"): ({ADMIN, INSPECTOR}, "/absences", None),
    ("POST", "/absences"): ({ADMIN, INSPECTOR}, "/absences", None),
    ("GET", "/admin/calendar"): ({ADMIN}, "/admin/calendar", None),
    ("POST", "/admin/calendar"): ({ADMIN}, "/admin/calendar?year=2099", None),
    ("GET", "/admin/checklists"): ({ADMIN}, "/admin/checklists", None),
    ("POST", "/admin/checklists"): ({ADMIN}, "/admin/checklists", None),
    ("GET", "/admin/provisions"): ({ADMIN}, "/admin/provisions", None),
    ("POST", "/admin/provisions"): ({ADMIN}, "/admin/provisions", None),
    ("GET", "/enterprises/<code>"): ({ADMIN, INSPECTOR}, "/enterprises/SF", None),
    ("GET", "/penalties"): (READERS, "/penalties", None),
    ("GET", "/penalties/new"): ({ADMIN, INSPECTOR}, "/penalties/new?order=999999", None),
    ("POST", "/penalties/new"): ({ADMIN, INSPECTOR}, "/penalties/new?order=999999", None),
    ("GET", "/penalties/<int:case_id>"): (READERS, "/penalties/999999", None),
    ("POST", "/penalties/<int:case_id>"): (READERS, "/penalties/999999", None),
    ("GET", "/public/penalties"): (PUBLIC_ROUTE, "/public/penalties", None),
    ("GET", "/api/v1/rectification-orders/<int:order_id>"): (READERS, "/api/v1/rectification-orders/999999", None),
    ("POST", "/api/v1/rectification-orders/<int:order_id>/photos"): (
        {MANAGER}, "/api/v1/rectification-orders/999999/photos", None),
    ("GET", "/api/v1/rectification-photos/<int:photo_id>"): (READERS, "/api/v1/rectification-photos/999999", None),
    ("POST", "/api/v1/rectification-orders/<int:order_id>/accept"): (
        {ADMIN, INSPECTOR}, "/api/v1/rectification-orders/999999/accept", {}),
    ("POST", "/api/v1/rectification-orders/<int:order_id>/reject"): (
        {ADMIN, INSPECTOR}, "/api/v1/rectification-orders/999999/reject", {"reason": "r", "deadline": "2099-01-01"}),
    ("POST", "/api/v1/rectification-orders/<int:order_id>/reinspect"): (
        {ADMIN, INSPECTOR}, "/api/v1/rectification-orders/999999/reinspect", {}),
    ("GET", "/api/v1/rectification-orders/<int:order_id>/notice.pdf"): (
        READERS, "/api/v1/rectification-orders/999999/notice.pdf", None),
    ("POST", "/api/v1/audits/<int:audit_id>/members"): ({ADMIN, INSPECTOR}, "/api/v1/audits/999999/members", {
        "name": "张警官", "agency": "呼和浩特市公安局"}),
    ("DELETE", "/api/v1/audits/<int:audit_id>/members/<int:member_id>"): (
        {ADMIN, INSPECTOR}, "/api/v1/audits/999999/members/999999", None),
    ("GET", "/api/v1/inspector-absences"): ({ADMIN, INSPECTOR}, "/api/v1/inspector-absences", None),
    ("POST", "/api/v1/inspector-absences"): ({ADMIN, INSPECTOR}, "/api/v1/inspector-absences", {
        "start_date": "2099-01-05", "end_date": "2099-01-06"}),
    ("DELETE", "/api/v1/inspector-absences/<int:absence_id>"): (
        {ADMIN, INSPECTOR}, "/api/v1/inspector-absences/999999", None),
    ("GET", "/api/v1/checklist-items"): ({ADMIN, INSPECTOR}, "/api/v1/checklist-items?kind=safety", None),
    ("POST", "/api/v1/checklist-items"): ({ADMIN}, "/api/v1/checklist-items", {
        "kind": "safety", "code": "acc_item", "name_zh": "测试", "name_en": "Test"}),
    ("PATCH", "/api/v1/checklist-items/<int:item_id>"): ({ADMIN}, "/api/v1/checklist-items/999999", {"active": False}),
    ("GET", "/api/v1/calendar/<int:year>"): ({ADMIN, INSPECTOR}, "/api/v1/calendar/2027", None),
    ("PUT", "/api/v1/calendar/<int:year>"): ({ADMIN}, "/api/v1/calendar/2099", {"days": []}),
    ("GET", "/api/v1/credit/outlets/<code>"): (READERS, f"/api/v1/credit/outlets/{OUTLET}", None),
    ("GET", "/api/v1/credit/enterprises/<code>"): ({ADMIN, INSPECTOR}, "/api/v1/credit/enterprises/SF", None),
    ("GET", "/api/v1/incidents"): (READERS, "/api/v1/incidents", None),
    ("POST", "/api/v1/incidents"): (READERS, "/api/v1/incidents", {
        "outlet_code": OUTLET, "occurred_at": "2025-06-01T08:00:00+08:00", "type": "leak", "description": "泄漏"}),
    ("GET", "/api/v1/incidents/<int:incident_id>"): (READERS, "/api/v1/incidents/999999", None),
    ("GET", "/api/v1/incidents/<int:incident_id>/report.pdf"): (READERS, "/api/v1/incidents/999999/report.pdf", None),
    ("POST", "/api/v1/incidents/<int:incident_id>/grade"): ({ADMIN, INSPECTOR}, "/api/v1/incidents/999999/grade",
                                                            {"grade": "IV"}),
    ("POST", "/api/v1/incidents/<int:incident_id>/updates"): (READERS, "/api/v1/incidents/999999/updates",
                                                              {"text": "续报"}),
    ("POST", "/api/v1/incidents/<int:incident_id>/close"): ({ADMIN, INSPECTOR}, "/api/v1/incidents/999999/close",
                                                            {"summary": "总结"}),
    ("POST", "/api/v1/incidents/<int:incident_id>/attachments"): (READERS, "/api/v1/incidents/999999/attachments",
                                                                  None),
    ("GET", "/api/v1/incidents/<int:incident_id>/attachments/<int:attachment_id>"): (
        READERS, "/api/v1/incidents/999999/attachments/1", None),
    ("GET", "/api/v1/emergency-plans"): (READERS, "/api/v1/emergency-plans", None),
    ("POST", "/api/v1/emergency-plans"): (READERS, "/api/v1/emergency-plans", {
        "enterprise_code": "SF", "title": "应急预案", "version": "1", "valid_until": "2030-01-01"}),
    ("GET", "/api/v1/emergency-plans/<int:emergency_plan_id>/document"): (READERS, "/api/v1/emergency-plans/999999/document",
                                                                None),
    ("POST", "/api/v1/emergency-plans/<int:emergency_plan_id>/document"): (READERS, "/api/v1/emergency-plans/999999/document",
                                                                 None),
    ("GET", "/api/v1/emergency-drills"): (READERS, "/api/v1/emergency-drills", None),
    ("POST", "/api/v1/emergency-drills"): (READERS, "/api/v1/emergency-drills", {
        "enterprise_code": "SF", "held_on": "2025-05-01", "scenario": "火灾疏散", "participants": 10}),
    ("GET", "/api/v1/emergency-readiness"): ({ADMIN, INSPECTOR}, "/api/v1/emergency-readiness", None),
    ("GET", "/api/v1/daily-safety-report"): ({ADMIN, INSPECTOR}, "/api/v1/daily-safety-report", None),
    ("GET", "/api/v1/daily-safety-report.pdf"): ({ADMIN, INSPECTOR}, "/api/v1/daily-safety-report.pdf", None),
    ("GET", "/incidents"): (READERS, "/incidents", None),
    ("GET", "/incidents/new"): (READERS, "/incidents/new", None),
    ("POST", "/incidents/new"): (READERS, "/incidents/new", None),
    ("GET", "/incidents/<int:incident_id>"): (READERS, "/incidents/999999", None),
    ("POST", "/incidents/<int:incident_id>"): (READERS, "/incidents/999999", None),
    ("GET", "/emergency"): (READERS, "/emergency", None),
    ("POST", "/emergency"): (READERS, "/emergency", None),
    ("GET", "/emergency/plans/<int:plan_id>/document"): (READERS, "/emergency/plans/999999/document", None),
    ("GET", "/daily-report"): ({ADMIN, INSPECTOR}, "/daily-report", None),
    ("GET", "/daily-report.pdf"): ({ADMIN, INSPECTOR}, "/daily-report.pdf", None),
    ("GET", "/api/v1/penalty-cases"): (READERS, "/api/v1/penalty-cases", None),
    ("POST", "/api/v1/penalty-cases"): ({ADMIN, INSPECTOR}, "/api/v1/penalty-cases", {
        "order_id": 999999, "provision_id": 1, "facts": "f"}),
    ("GET", "/api/v1/penalty-cases/<int:case_id>"): (READERS, "/api/v1/penalty-cases/999999", None),
    ("POST", "/api/v1/penalty-cases/<int:case_id>/notice"): ({ADMIN, INSPECTOR}, "/api/v1/penalty-cases/999999/notice",
                                                             {"served_on": "2026-12-01"}),
    ("POST", "/api/v1/penalty-cases/<int:case_id>/hearing"): (
        {ADMIN, INSPECTOR}, "/api/v1/penalty-cases/999999/hearing", {"held_on": "2026-12-01"}),
    ("POST", "/api/v1/penalty-cases/<int:case_id>/decision"): (
        {ADMIN, INSPECTOR}, "/api/v1/penalty-cases/999999/decision", {"decision": "warning", "decided_on": "2026-12-01"}),
    ("POST", "/api/v1/penalty-cases/<int:case_id>/publish"): ({ADMIN, INSPECTOR}, "/api/v1/penalty-cases/999999/publish",
                                                              None),
    ("GET", "/api/v1/penalty-cases/<int:case_id>/decision.pdf"): (READERS, "/api/v1/penalty-cases/999999/decision.pdf",
                                                                  None),
    ("GET", "/api/v1/legal-provisions"): (READERS, "/api/v1/legal-provisions", None),
    ("POST", "/api/v1/legal-provisions"): ({ADMIN}, "/api/v1/legal-provisions", {
        "code": "ACC-P", "law": "l", "article": "a", "violation": "v", "text": "t"}),
    ("PATCH", "/api/v1/legal-provisions/<int:provision_id>"): ({ADMIN}, "/api/v1/legal-provisions/999999",
                                                               {"active": False}),
    ("GET", "/publication"): ({ADMIN, INSPECTOR}, "/publication", None),
    ("GET", "/public/audits"): (PUBLIC_ROUTE, "/public/audits", None),
    ("POST", "/api/v1/xray-events"): ({ADMIN, MANAGER}, "/api/v1/xray-events", None),
    ("POST", "/api/v1/xray-imports"): ({ADMIN, MANAGER}, "/api/v1/xray-imports", None),
    ("GET", "/api/v1/jobs/<job_id>"): (EVERYONE, "/api/v1/jobs/no-such-job", None),
    ("GET", "/jobs/<job_id>"): (EVERYONE, "/jobs/no-such-job", None),
    ("GET", "/api/v1/xray-events"): (READERS, "/api/v1/xray-events?flagged=true&status=pending", None),
    ("GET", "/api/v1/xray-events/<int:event_id>"): (READERS, "/api/v1/xray-events/999999", None),
    ("GET", "/api/v1/xray-events/<int:event_id>/image"): (READERS | {INVESTIGATOR}, "/api/v1/xray-events/999999/image", None),
    ("GET", "/api/v1/xray-events/<int:event_id>/heatmap"): (READERS | {INVESTIGATOR}, "/api/v1/xray-events/999999/heatmap", None),
    ("POST", "/api/v1/xray-events/<int:event_id>/review"): ({ADMIN, INSPECTOR}, "/api/v1/xray-events/999999/review",
                                                            {"decision": "cleared"}),
    ("POST", "/api/v1/xray-machines/<code>/status"): ({ADMIN, MANAGER}, "/api/v1/xray-machines/ACC-X1/status",
                                                      {"kind": "power_on", "at": "2026-11-28T08:00:00+08:00"}),
    ("GET", "/api/v1/xray-machines/<code>/power-on"): (
        READERS, "/api/v1/xray-machines/ACC-X1/power-on?from=2026-11-28T00:00:00%2B08:00&to=2026-11-29T00:00:00%2B08:00",
        None),
    ("GET", "/api/v1/xray-machines/<code>/calibration"): (READERS, "/api/v1/xray-machines/ACC-X1/calibration", None),
    ("PUT", "/api/v1/xray-machines/<code>/model"): ({ADMIN}, "/api/v1/xray-machines/ACC-X1/model", {"version": "none"}),
    ("DELETE", "/api/v1/xray-machines/<code>/model"): ({ADMIN}, "/api/v1/xray-machines/ACC-X1/model", None),
    ("GET", "/xray/machines/<code>"): (READERS, "/xray/machines/ACC-X1", None),
    ("GET", "/xray/models"): ({ADMIN, INSPECTOR}, "/xray/models", None),
    ("GET", "/xray/models/<version>"): ({ADMIN, INSPECTOR}, "/xray/models/none", None),
    ("GET", "/api/v1/xray-models"): ({ADMIN, INSPECTOR}, "/api/v1/xray-models", None),
    ("POST", "/api/v1/xray-models/<version>/activate"): ({ADMIN}, "/api/v1/xray-models/none/activate", None),
    ("GET", "/api/v1/xray-reviewers/stats"): ({ADMIN, INSPECTOR}, "/api/v1/xray-reviewers/stats", None),
    ("GET", "/xray/review"): ({ADMIN, INSPECTOR}, "/xray/review", None),
    ("GET", "/api/v1/clues"): ({ADMIN, INSPECTOR}, "/api/v1/clues", None),
    ("GET", "/api/v1/clues/<int:clue_id>"): ({ADMIN, INSPECTOR}, "/api/v1/clues/999999", None),
    ("POST", "/api/v1/clues/<int:clue_id>/hand-over"): ({ADMIN, INSPECTOR}, "/api/v1/clues/999999/hand-over",
                                                         {"agency": "公安局", "agency_case_no": "1"}),
    ("POST", "/api/v1/clues/<int:clue_id>/close"): ({ADMIN, INSPECTOR}, "/api/v1/clues/999999/close",
                                                    {"outcome": "已办结"}),
    ("GET", "/api/v1/xray-seizures/stats"): ({ADMIN, INSPECTOR}, "/api/v1/xray-seizures/stats?from=2025-01-01&to=2025-01-31",
                                             None),
    ("GET", "/xray/clues"): ({ADMIN, INSPECTOR}, "/xray/clues", None),
    ("POST", "/xray/clues/<int:clue_id>/<action>"): ({ADMIN, INSPECTOR}, "/xray/clues/999999/close", None),
    ("GET", "/xray/seizures"): ({ADMIN, INSPECTOR}, "/xray/seizures", None),
    ("GET", "/api/v1/compliance/machine-coverage"): (READERS, "/api/v1/compliance/machine-coverage", None),
    ("POST", "/xray/review/<int:event_id>"): ({ADMIN, INSPECTOR}, "/xray/review/999999", None),
    ("POST", "/api/v1/cases"): ({INVESTIGATOR}, "/api/v1/cases", {
        "case_no": "ACC-CASE-9", "agency": "a", "legal_basis": "l", "purpose": "p", "valid_until": "2099-01-01"}),
    ("GET", "/api/v1/cases"): ({INVESTIGATOR, AUDITOR, ADMIN}, "/api/v1/cases", None),
    ("GET", "/api/v1/cases/<int:case_id>"): ({INVESTIGATOR, AUDITOR, ADMIN}, "/api/v1/cases/999999", None),
    ("POST", "/api/v1/cases/<int:case_id>/approve"): ({AUDITOR, ADMIN}, "/api/v1/cases/999999/approve", None),
    ("POST", "/api/v1/cases/<int:case_id>/refuse"): ({AUDITOR, ADMIN}, "/api/v1/cases/999999/refuse", {"reason": "r"}),
    ("GET", "/api/v1/cases/<int:case_id>/results"): ({INVESTIGATOR}, "/api/v1/cases/999999/results", None),
    ("GET", "/api/v1/cases/<int:case_id>/export"): ({INVESTIGATOR}, "/api/v1/cases/999999/export", None),
    ("POST", "/api/v1/cases/<int:case_id>/watchlists"): ({INVESTIGATOR}, "/api/v1/cases/999999/watchlists", {
        "name": "w", "cron": "0 * * * *", "query": {"waybill_no": "SF123456789"}}),
    ("GET", "/api/v1/cases/<int:case_id>/watchlists"): ({INVESTIGATOR, AUDITOR, ADMIN},
                                                        "/api/v1/cases/999999/watchlists", None),
    ("DELETE", "/api/v1/cases/<int:case_id>/watchlists/<int:watchlist_id>"): (
        {INVESTIGATOR}, "/api/v1/cases/999999/watchlists/999999", None),
    ("POST", "/api/v1/trace"): ({INVESTIGATOR, INSPECTOR}, "/api/v1/trace", {"waybill_no": "SF123456789"}),
    ("GET", "/api/v1/notifications"): (EVERYONE, "/api/v1/notifications", None),
    ("POST", "/api/v1/notifications/<int:notification_id>/read"): (EVERYONE, "/api/v1/notifications/999999/read", None),
    ("GET", "/api/v1/access-log"): ({AUDITOR, ADMIN}, "/api/v1/access-log", None),
    ("GET", "/api/v1/access-log/verify"): ({AUDITOR, ADMIN}, "/api/v1/access-log/verify", None),
    ("GET", "/cases"): ({INVESTIGATOR, AUDITOR, ADMIN}, "/cases", None),
    ("GET", "/cases/new"): ({INVESTIGATOR}, "/cases/new", None),
    ("POST", "/cases/new"): ({INVESTIGATOR}, "/cases/new", None),
    ("GET", "/cases/<int:case_id>"): ({INVESTIGATOR, AUDITOR, ADMIN}, "/cases/999999", None),
    ("POST", "/cases/<int:case_id>/approve"): ({AUDITOR, ADMIN}, "/cases/999999/approve", None),
    ("POST", "/cases/<int:case_id>/refuse"): ({AUDITOR, ADMIN}, "/cases/999999/refuse", None),
    ("POST", "/cases/<int:case_id>/watchlists"): ({INVESTIGATOR}, "/cases/999999/watchlists", None),
    ("GET", "/cases/<int:case_id>/results"): ({INVESTIGATOR}, "/cases/999999/results", None),
    ("GET", "/trace"): ({INVESTIGATOR, INSPECTOR}, "/trace", None),
    ("POST", "/trace"): ({INVESTIGATOR, INSPECTOR}, "/trace", None),
    ("GET", "/notifications"): (EVERYONE, "/notifications", None),
    ("GET", "/access-log"): ({AUDITOR, ADMIN}, "/access-log", None),
    ("GET", "/access-log/verify"): ({AUDITOR, ADMIN}, "/access-log/verify", None),
    ("GET", "/dashboard/"): (READERS, "/dashboard/", None),
    ("GET", "/dashboard/outlets/<code>"): (READERS, f"/dashboard/outlets/{OUTLET}", None),
    ("GET", "/upload"): ({ADMIN, MANAGER}, "/upload", None),
    ("POST", "/upload"): ({ADMIN, MANAGER}, "/upload", None),
    ("GET", "/batches/<int:batch_id>"): (READERS, "/batches/999999", None),
    ("GET", "/registry/<kind>"): (READERS, "/registry/outlets", None),
    ("GET", "/registry/<kind>/new"): ({ADMIN}, "/registry/staff/new", None),
    ("POST", "/registry/<kind>/new"): ({ADMIN}, "/registry/staff/new", None),
    ("GET", "/registry/<kind>/<key>/edit"): ({ADMIN}, f"/registry/outlets/{OUTLET}/edit", None),
    ("POST", "/registry/<kind>/<key>/edit"): ({ADMIN}, f"/registry/outlets/{OUTLET}/edit", None),
    ("POST", "/registry/<kind>/<key>/active"): ({ADMIN}, f"/registry/outlets/{OUTLET}/active", None),
}


def app_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        routes |= {(method, rule.rule) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_every_route_has_an_entry(app):
    missing = sorted(app_routes(app) - set(ROUTES))
    stale = sorted(set(ROUTES) - app_routes(app))
    assert missing == [], "routes without an access entry in tests/test_access.py"
    assert stale == [], "entries for routes that no longer exist"


def test_every_view_declares_its_policy(app):
    from greenshield.auth.policy import PUBLIC_ENDPOINT_PREFIXES

    undeclared = [endpoint for endpoint, view in app.view_functions.items()
                  if roles_of(view) is None and not endpoint.startswith(PUBLIC_ENDPOINT_PREFIXES)]
    assert undeclared == []


def test_declared_policies_match_the_table(app):
    by_rule = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            by_rule[(method, rule.rule)] = roles_of(app.view_functions[rule.endpoint])
    for key, (allowed, _, _) in ROUTES.items():
        declared = by_rule[key]
        if allowed == PUBLIC_ROUTE:
            assert declared in (PUBLIC, None), key
        else:
            assert {r.value for r in declared} == allowed, key


@pytest.fixture
def world(session, make_outlet, make_user, bearer):
    from models import ContractCustomer, Staff, StaffRole, XrayMachine
    import datetime as dt

    outlet = make_outlet(OUTLET)
    session.add_all([
        XrayMachine(code="ACC-X1", outlet=outlet, model="m", installed_on=dt.date(2024, 1, 1), active=True),
        Staff(staff_id="ACC-C1", name="王五", outlet=outlet, role=StaffRole.COURIER, active=True),
        ContractCustomer(code="ACC-CC1", name="n", credit_code="91350100M000100Y43", outlet=outlet,
                         filed_on=dt.date(2025, 1, 1), valid_until=dt.date(2027, 1, 1), active=True),
    ])
    users = {
        ADMIN: make_user(ADMIN, username="acc_admin"),
        INSPECTOR: make_user(INSPECTOR, username="acc_inspector", region="150100"),
        MANAGER: make_user(MANAGER, username="acc_manager", outlets=[OUTLET]),
        INVESTIGATOR: make_user(INVESTIGATOR, username="acc_investigator"),
        AUDITOR: make_user(AUDITOR, username="acc_auditor"),
    }
    return {role: (user, bearer(user)) for role, user in users.items()}


def _call(client, method, path, body, headers):
    if path.startswith("/api/"):
        return client.open(path, method=method, json=body, headers=headers)
    return client.open(path, method=method, data=body or {}, headers={})


@pytest.mark.parametrize("key", sorted(ROUTES), ids=lambda k: f"{k[0]} {k[1]}")
def test_route_for_every_role(app, client, world, login, key):
    allowed, path, body = ROUTES[key]
    method = key[0]
    for role in ROLES:
        user, headers = world[role]
        if not path.startswith("/api/"):
            login(client, user)
        response = _call(client, method, path, body, headers)
        if allowed == PUBLIC_ROUTE:
            assert response.status_code != 403 and response.status_code < 500, (role, response.status_code)
        elif role in allowed:
            assert response.status_code not in (401, 403) and response.status_code < 500, (
                role, response.status_code, response.get_data(True)[:300])
        else:
            assert response.status_code == 403, (role, response.status_code)
            if path.startswith("/api/"):
                assert set(response.get_json()) == {"error"}
        with client.session_transaction() as cookie:
            cookie.clear()
    anonymous = _call(client, method, path, body, {})
    if allowed == PUBLIC_ROUTE:
        assert anonymous.status_code < 500
    elif path.startswith("/api/"):
        assert anonymous.status_code == 401
    else:
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
