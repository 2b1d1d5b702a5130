"""The one error table and the one error shape: {"error": {"code", "message", "details"}} (HTML for browsers).

Domain code raises ``models.errors.DomainError`` (and its subclasses in ``inspection`` and ``audits``) with a
code and parameters. ``MESSAGES`` below maps every code to its HTTP status and its message, written in English
here and translated in the catalogues (``greenshield/translations``); the message comes out in the language of
the request (``Accept-Language`` or the language the user chose), Simplified Chinese by default. The API's
``error.code`` is the code up to its first dot, and stays stable.

Row errors of daily logs (``inspection.dailylog.RowError``) and stored batch errors use the same table, so the
error report reads in either language.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from flask_babel import force_locale, get_locale, lazy_gettext as _l
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from greenshield.web.labels import column_label
from models.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

__all__ = ["MESSAGES", "Conflict", "DomainError", "Forbidden", "Invalid", "NotFound", "Unauthenticated",
           "error_response", "form_errors", "init_app", "message", "status_of"]

log = logging.getLogger(__name__)


class Unauthenticated(DomainError):
    code = "unauthenticated"


@dataclass(frozen=True)
class Entry:
    """One code's message (a catalogue msgid, ``%(name)s`` for its parameters) and HTTP status (``None``:
    the status of its API code, see ``STATUS``)."""

    message: object
    status: int | None = None


def E(message: object, status: int | None = None) -> Entry:  # noqa: N802 - reads as a table
    return Entry(message, status)


# The status of each API code; a code's own entry may say otherwise.
STATUS = {
    "bad_request": 400, "unauthenticated": 401, "forbidden": 403, "not_found": 404, "method_not_allowed": 405,
    "conflict": 409, "payload_too_large": 413, "too_large": 413, "too_many_pixels": 413, "unsupported_format": 415,
    "corrupt_image": 422,
    "unsupported_media_type": 415, "validation_error": 422, "too_many_requests": 429, "internal_error": 500,
    "storage_unavailable": 503,
    # a daily-log file that cannot be read as one
    "empty_file": 422, "undecodable_text": 422, "malformed_csv": 422, "no_header": 422, "encrypted_xlsx": 422,
    "corrupt_xlsx": 422, "zip_bomb": 422, "missing_columns": 422, "no_rows": 422,
}

MESSAGES: dict[str, Entry] = {
    # --- generic: an HTTP status, or a code raised without a reason ------------------------------------------
    "bad_request": E(_l("The request could not be understood.")),
    "bad_request.not_json": E(_l("The request body is not valid JSON.")),
    "bad_request.csrf": E(_l("The form has expired or did not come from this site (CSRF token missing or wrong); "
                             "reload the page and try again.")),
    "unauthenticated": E(_l("Sign in or send a bearer token.")),
    "unauthenticated.bad_token": E(_l("The bearer token is invalid, expired or revoked.")),
    "unauthenticated.sign_in": E(_l("Wrong username or password.")),
    "too_many_requests.sign_in": E(_l("Too many failed sign-ins; wait %(seconds)s seconds and try again.")),
    "forbidden.password_change_required": E(_l("Change your password first: an administrator has reset it.")),
    "forbidden": E(_l("You may not do this.")),
    "forbidden.role": E(_l("Your role may not do this.")),
    "forbidden.no_policy": E(_l("This address declares no access policy and is refused.")),
    "not_found": E(_l("Nothing was found at this address.")),
    "method_not_allowed": E(_l("This address does not take this kind of request.")),
    "conflict": E(_l("This conflicts with what is stored.")),
    "payload_too_large": E(_l("The request is larger than the server accepts.")),
    "unsupported_media_type": E(_l("The request's content type is not accepted here.")),
    "validation_error": E(_l("Some fields are invalid.")),
    "too_many_requests": E(_l("Too many requests; wait a moment and try again.")),
    "internal_error": E(_l("An unexpected error occurred; it has been logged.")),
    "storage_unavailable": E(_l("The file store cannot be reached; nothing was stored. Try again later.")),
    "storage_unavailable.refused": E(_l("The file store refused the request (%(reason)s); nothing was stored. Tell "
                                        "the administrator.")),
    "validation_error.nul_character": E(_l("Text may not contain NUL characters.")),
    "validation_error.nul_character_field": E(_l("contains a NUL character")),
    "not_found.nul_character": E(_l("Nothing has a name with a NUL character.")),
    "validation_error.not_a_date": E(_l("Give a date as YYYY-MM-DD.")),
    # --- registry, accounts and scope ------------------------------------------------------------------------
    "not_found.outlet": E(_l("There is no outlet %(code)s.")),
    "not_found.machine": E(_l("There is no X-ray machine %(code)s.")),
    "not_found.staff": E(_l("There is no staff member %(code)s.")),
    "not_found.contract_customer": E(_l("There is no contract customer %(code)s.")),
    "not_found.region": E(_l("There is no region %(code)s.")),
    "not_found.user": E(_l("There is no user %(username)s.")),
    "not_found.token": E(_l("There is no such token.")),
    "not_found.notification": E(_l("There is no such notification.")),
    "forbidden.outlet_scope": E(_l("Outlet %(code)s is outside your scope.")),
    "forbidden.machine_scope": E(_l("X-ray machine %(code)s is outside your scope.")),
    "forbidden.region_scope": E(_l("Region %(code)s is outside your scope.")),
    "validation_error.screening_site_self": E(_l("An outlet cannot be its own screening site.")),
    "validation_error.unknown_screening_site": E(_l("No outlet or sorting centre has the code %(code)s.")),
    "validation_error.unknown_region": E(_l("There is no region %(code)s.")),
    "validation_error.unknown_enterprise": E(_l("There is no enterprise %(code)s.")),
    "validation_error.unknown_outlet": E(_l("There is no outlet %(code)s.")),
    "validation_error.unknown_outlets": E(_l("There are no outlets %(codes)s.")),
    "conflict.exists": E(_l("%(value)s exists already.")),
    "conflict.username_taken": E(_l("The username %(username)s is taken.")),
    "validation_error.password_too_short": E(_l("The password needs at least %(min)s characters.")),
    "validation_error.token_days": E(_l("A token is valid for 1 to %(max)s days.")),
    "validation_error.wrong_password": E(_l("The password is wrong.")),
    "validation_error.same_password": E(_l("Choose a password different from the current one.")),
    "validation_error.passwords_differ": E(_l("The two passwords differ.")),
    "validation_error.username_format": E(_l("3-64 of a-z 0-9 _ . -, starting with a letter.")),
    "validation_error.unknown_role": E(_l("Choose a role.")),
    "conflict.own_account": E(_l("Administrators cannot deactivate their own account or take away their own "
                                 "administration.")),
    "validation_error.inspector_needs_region": E(_l("An inspector needs a region.")),
    "validation_error.manager_needs_outlets": E(_l("An outlet manager needs at least one outlet.")),
    "validation_error.screener_certificate": E(_l("A screener needs a certificate number.")),
    "validation_error.valid_until_before_filed_on": E(_l("The end of validity is before the filing date.")),
    # --- daily logs --------------------------------------------------------------------------------------------
    "validation_error.choose_file": E(_l("Choose a file to upload.")),
    # --- daily logs: a row's cells, identity documents and phone numbers, the file as a whole ---------------
    "legacy": E(_l("%(message)s")),  # errors stored before codes existed: their English sentence
    "validation_error.required": E(_l('"%(column)s" is required.')),
    "validation_error.too_long": E(_l('"%(column)s" is longer than %(max)s characters.')),
    "validation_error.too_large": E(_l('"%(column)s" is larger than %(max)s.')),
    "validation_error.not_positive_whole_number": E(_l('"%(column)s" must be a positive whole number.')),
    "validation_error.not_yes_no": E(_l('"%(column)s" must be yes or no: 是/否, Y/N, true/false or 1/0.')),
    "validation_error.waybill_format": E(_l('"%(column)s" must be %(min)s-%(max)s letters, digits or "-".')),
    "validation_error.not_datetime": E(_l('"%(column)s" is not a date and time like YYYY-MM-DD HH:MM:SS.')),
    "validation_error.no_time_of_day": E(_l(
            '"%(column)s" has a date but no time of day (use YYYY-MM-DD HH:MM:SS).')),
    "validation_error.impossible_datetime": E(_l('"%(column)s" is not a real date and time.')),
    "validation_error.before_2000": E(_l('"%(column)s" is before the year 2000.')),
    "validation_error.in_future": E(_l('"%(column)s" is more than %(minutes)s minutes in the future.')),
    "validation_error.waybill_repeated": E(_l(
            "The waybill number is repeated inside the file: row %(first_row)s has it already.")),
    "warning.unrecognised_column": E(_l('Unrecognised column "%(header)s" ignored.')),
    "warning.unrecognised_key": E(_l('Unrecognised key "%(header)s" ignored.')),
    "warning.duplicate_column": E(_l('Duplicate column "%(header)s" ignored: the first "%(column)s" column is '
                                     'used.')),
    "validation_error.other_outlet": E(_l(
            'The row names another outlet, but the file is uploaded for outlet "%(outlet)s".')),
    "validation_error.id_no_without_type": E(_l("ID number given without an ID type.")),
    "validation_error.id_type_without_no": E(_l("ID type given without an ID number.")),
    "validation_error.invalid_json": E(_l("The row is not a JSON object (invalid JSON).")),
    "validation_error.not_json_object": E(_l("The row is not a JSON object.")),
    "validation_error.unknown_id_type": E(_l("Unknown ID type.")),
    "validation_error.id_type_missing": E(_l("The ID type is missing.")),
    "validation_error.id_no_empty": E(_l("The ID number is empty.")),
    "validation_error.id_body": E(_l("The first 17 characters of an ID number must be digits.")),
    "validation_error.id_gb11643_shape": E(_l(
            "The ID number must be 18 characters: 17 digits and a check digit (0-9 or X).")),
    "validation_error.id_birth_date_impossible": E(_l("The ID number contains an impossible birth date.")),
    "validation_error.id_birth_date_future": E(_l("The ID number contains a birth date in the future.")),
    "validation_error.id_check_digit": E(_l("The ID number's check digit is wrong.")),
    "validation_error.id_province": E(_l("The resident ID number does not start with a known province code.")),
    "validation_error.id_hmt_area": E(_l(
            "A residence permit number must start with the area code of Hong Kong (810000), Macao (820000) or "
            "Taiwan (830000).")),
    "validation_error.id_foreign_old_shape": E(_l(
            "A 15-character foreign permanent resident ID is 3 letters and 12 digits.")),
    "validation_error.id_foreign_shape": E(_l(
            "A foreign permanent resident ID is 18 characters starting with 9, or 3 letters and 12 digits.")),
    "validation_error.id_hk_mo_shape": E(_l("A Hong Kong/Macao permit number is H or M followed by 8 or 10 digits.")),
    "validation_error.id_tw_shape": E(_l("A Taiwan permit number is 8 digits.")),
    "validation_error.id_shape": E(_l("An ID number of this type is 4-32 letters and digits.")),
    "validation_error.id_service_card_shape": E(_l(
            "A military or armed-police card number is 4-20 letters and digits as printed, optionally with its "
            "prefix such as 军字第…号, 士 or 武警.")),
    "validation_error.unknown_destination": E(_l(
            "The destination is neither a GB/T 2260 region code nor a known region name.")),
    "validation_error.phone_empty": E(_l("The phone number is empty.")),
    "validation_error.phone_characters": E(_l(
            "A phone number may only contain digits, a leading +, -, spaces and parentheses.")),
    "validation_error.phone_international_length": E(_l("An international phone number has 5-20 digits.")),
    "validation_error.phone_length": E(_l("A phone number has 5-20 digits.")),
    "validation_error.mobile_shape": E(_l("A mainland mobile number is 11 digits starting with 13-19.")),
    "validation_error.credit_code_empty": E(_l("The credit code is empty.")),
    "validation_error.credit_code_body": E(_l(
            "The first 17 characters of a credit code must be 0-9 or A-Y without I, O, S, V, Z.")),
    "validation_error.credit_code_shape": E(_l(
            "A credit code is 18 characters of 0-9 and A-Y without I, O, S, V, Z, with digits in positions 3-8.")),
    "validation_error.credit_code_check": E(_l("The credit code's check character is wrong.")),
    "empty_file": E(_l("The file is empty.")),
    "too_large": E(_l("The file is %(size_mib).1f MiB; the limit is %(limit_mib).1f MiB. Split it by day.")),
    "unsupported_format.pdf": E(_l(
            "The file is a PDF document, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.png": E(_l(
            "The file is a PNG image, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.jpeg": E(_l(
            "The file is a JPEG image, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.gif": E(_l(
            "The file is a GIF image, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.tiff": E(_l(
            "The file is a TIFF image, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.gzip": E(_l(
            "The file is a gzip archive, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.bzip2": E(_l(
            "The file is a bzip2 archive, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.7z": E(_l(
            "The file is a 7-Zip archive, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.rar": E(_l(
            "The file is a RAR archive, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.zip": E(_l(
            "The file is a ZIP archive, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.rtf": E(_l(
            "The file is an RTF document, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.binary": E(_l(
            "The file is binary data, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
            "or JSON Lines.")),
    "unsupported_format.utf32": E(_l("The file is UTF-32 text, which is not read. Save it as CSV UTF-8.")),
    "unsupported_format.json_array": E(_l(
            "The file is a JSON array, not a daily log: write one JSON object per line (JSON Lines) instead.")),
    "unsupported_format.html": E(_l(
            "The file is an HTML or XML page, not a daily log (some systems save these with an .xls name): open it "
            "in Excel and save it as .xlsx.")),
    "unsupported_format.xlsb": E(_l("The file is an Excel binary workbook (.xlsb): save it as .xlsx.")),
    "unsupported_format.opendocument": E(_l("The file is an OpenDocument spreadsheet: save it as .xlsx.")),
    "unsupported_format.office_document": E(_l(
            "The file is an Office document that is not a workbook. Upload the daily log as CSV, XLSX (Excel "
            "workbook) or JSON Lines.")),
    "undecodable_text": E(_l(
            "Line %(line)s of the file is neither UTF-8 nor GB18030 (GBK) text. Save the file again as CSV UTF-8.")),
    "undecodable_text.mixed": E(_l(
            "Line %(line)s of the file is not %(encoding)s text like the lines before it: the file mixes character "
            "encodings. Save it again as CSV UTF-8.")),
    "undecodable_text.mixed_part": E(_l(
            "Part of the file is not %(encoding)s text like the lines before it: the file mixes character "
            "encodings. Save it again as CSV UTF-8.")),
    "undecodable_text.start": E(_l("The start of the file is not %(encoding)s text. Save it again as CSV UTF-8.")),
    "malformed_csv": E(_l('The CSV file is malformed near line %(line)s; check for an unclosed quote (").')),
    "no_header.file": E(_l(
            "No header row found: none of the first rows of the file names a daily-log column such as %(columns)s.")),
    "no_header.worksheet": E(_l(
            "No header row found: none of the first rows of the first worksheet names a daily-log column such as "
            "%(columns)s.")),
    "no_header.jsonl": E(_l(
            "No daily-log key found: no object of the JSON Lines file has a key such as %(columns)s.")),
    "encrypted_xlsx": E(_l(
            "The file is a password-protected workbook or a legacy Excel 97-2003 (.xls) file. Remove the password "
            "and save it as an Excel workbook (.xlsx) or CSV.")),
    "encrypted_xlsx.password": E(_l(
            "The workbook is encrypted. Remove the password, save it as .xlsx and upload it again.")),
    "corrupt_xlsx": E(_l(
            "The Excel workbook is damaged or incomplete. Open it in Excel or WPS, save it again as .xlsx and "
            "upload that.")),
    "corrupt_xlsx.not_zip": E(_l(
            "The Excel workbook is damaged or incomplete (not a complete ZIP container). Open it in Excel or WPS, "
            "save it again as .xlsx and upload that.")),
    "corrupt_xlsx.after_row": E(_l(
            "The Excel workbook is damaged or incomplete: its worksheet is unreadable after row %(row)s. Open it in "
            "Excel or WPS, save it again as .xlsx and upload that.")),
    "zip_bomb": E(_l("The workbook expands to far more data than a daily log holds; it was not opened.")),
    "missing_columns": E(_l("Required columns are missing: %(columns)s.")),
    "no_rows": E(_l("The file has a header row but no data rows.")),
    "too_large.upload": E(_l("The file is larger than the limit of %(max_mib)s MiB; split it by day.")),
    "outlet_inactive": E(_l("Outlet %(code)s is deactivated and takes no uploads."), 409),
    "not_found.batch": E(_l("There is no upload batch %(id)s.")),
    "not_found.record": E(_l("Outlet %(outlet)s has no record of waybill %(waybill_no)s.")),
    # --- X-ray screening --------------------------------------------------------------------------------------
    "unsupported_format.image": E(_l("Only PNG, JPEG and TIFF images are accepted."), 422),
    "too_large.image": E(_l("The image is larger than the limit of %(max_mib)s MiB.")),
    "too_many_pixels.image": E(_l("The image has more pixels than the limit of %(max_pixels)s.")),
    "corrupt_image.image": E(_l("The image is damaged or incomplete and cannot be decoded."), 422),
    "not_found.xray_event": E(_l("There is no X-ray event %(id)s.")),
    "not_found.image_purged": E(_l("This event's image was deleted after the retention period.")),
    "not_found.model_version": E(_l("There is no model version %(version)s.")),
    "validation_error.manifest_missing": E(_l("The import holds no manifest.csv.")),
    "validation_error.import_not_zip": E(_l("Send the images and their manifest.csv as one zip file.")),
    "not_found.job": E(_l("There is no background job %(id)s.")),
    "validation_error.manifest_encoding": E(_l("manifest.csv is not UTF-8 text.")),
    "validation_error.manifest_unknown_machine": E(_l("manifest.csv line %(line)s: there is no X-ray machine "
                                                      "%(machine)s in your scope.")),
    "validation_error.manifest_line": E(_l("manifest.csv line %(line)s: give the machine, the waybill number, the "
                                           "scan time (ISO 8601), the operator and the file name of an image in the "
                                           "import.")),
    "validation_error.manifest_image": E(_l("manifest.csv line %(line)s: %(reason)s")),
    "conflict.already_reviewed": E(_l("This event has been reviewed already.")),
    "conflict.clue_not_open": E(_l("Only an open clue can be handed over.")),
    "conflict.clue_closed": E(_l("This clue is closed already.")),
    "validation_error.clue_agency_required": E(_l("Name the agency that takes the clue over.")),
    "validation_error.clue_case_no_required": E(_l("Give the receiving agency's case number.")),
    "validation_error.clue_outcome_required": E(_l("Say what came of the clue.")),
    "not_found.clue": E(_l("There is no clue %(id)s.")),
    "validation_error.seizure_category": E(_l("A seizure needs a prohibited-item category (1–19).")),
    "validation_error.unknown_category": E(_l("There is no prohibited-item category %(category)s.")),
    "validation_error.not_screener_here": E(_l("Check-ins need a screener of this machine's outlet.")),
    "validation_error.empty_period": E(_l("The end of the period must be after its start.")),
    # --- audits -----------------------------------------------------------------------------------------------
    "not_found.audit": E(_l("There is no audit %(id)s.")),
    "not_found.audit_plan": E(_l("There is no audit plan %(id)s.")),
    "not_found.schedule": E(_l("There is no audit schedule %(id)s.")),
    "not_found.photo": E(_l("There is no photo %(id)s.")),
    "not_found.order": E(_l("There is no rectification order %(id)s.")),
    "forbidden.not_assigned": E(_l("Only the inspectors assigned to this audit may work on it.")),
    "conflict.audit_closed": E(_l("This audit is closed; it can no longer change.")),
    "conflict.audit_not_closed": E(_l("Only a closed audit's result can be published.")),
    "conflict.checklist_incomplete": E(_l("These checklist items have no verdict yet: %(items)s.")),
    "conflict.order_closed": E(_l("This rectification order is closed.")),
    "validation_error.unknown_checklist_item": E(_l("There is no checklist item %(item)s.")),
    "validation_error.deadline_not_future": E(_l("A rectification needs a deadline after today.")),
    "validation_error.draw_no_outlets": E(_l("A plan draws at least one outlet.")),
    "validation_error.draw_too_few_outlets": E(_l("Only %(available)s active outlets can be drawn, not "
                                                  "%(wanted)s.")),
    "validation_error.draw_too_few_inspectors": E(_l("%(audits)s audits of %(per_audit)s inspectors need "
                                                     "%(needed)s inspectors free that day; %(free)s are.")),
    "validation_error.draw_no_fresh_team": E(_l("Not enough inspectors are left for outlet %(outlet)s who did not "
                                                "audit it last time.")),
    "payload_too_large.photo": E(_l("The photo is larger than %(max_mib)s MiB.")),
    "validation_error.photo_type": E(_l("Photos must be JPEG or PNG images.")),
    "validation_error.plan_period_too_short": E(_l(
        "%(audits)s audits of %(per_audit)s inspectors need %(needed)s inspector-days at %(capacity)s audits per "
        "inspector a day; the %(days)s working days from %(start)s to %(end)s have %(free)s free: %(missing)s "
        "inspector-days are missing. Move the due date later, draw fewer outlets or free some inspectors.")),
    "validation_error.plan_no_working_days": E(_l("The period has no working day.")),
    "validation_error.start_in_past": E(_l("The period cannot start in the past.")),
    "validation_error.due_before_start": E(_l("The due date is before the start of the period.")),
    "validation_error.plan_kind": E(_l("Plans draw routine or safety-production audits.")),
    "not_found.member": E(_l("This audit has no member %(id)s.")),
    "not_found.absence": E(_l("There is no absence %(id)s of yours.")),
    "forbidden.others_absence": E(_l("You may record only your own absences.")),
    "validation_error.not_an_inspector": E(_l("%(username)s is not an inspector.")),
    "not_found.checklist_item": E(_l("There is no checklist item %(id)s.")),
    "validation_error.checklist_item_name": E(_l("Give the item in Chinese and in English.")),
    "conflict.order_not_open": E(_l("This order no longer waits for an answer (it is %(status)s).")),
    "conflict.order_not_answered": E(_l("Only an answered order can be accepted or rejected.")),
    "validation_error.date_in_past": E(_l("Choose today or a later day.")),
    "validation_error.calendar_year": E(_l("%(year)s is not a year the calendar keeps (2000–2100).")),
    "validation_error.calendar_day_outside_year": E(_l("These days are not in %(year)s: %(days)s.")),
    "validation_error.calendar_line": E(_l("Line %(line)s (%(text)s) is not a date followed by holiday or working.")),
    "not_found.enterprise": E(_l("There is no enterprise %(code)s.")),
    # --- penalties --------------------------------------------------------------------------------------------
    "not_found.penalty_case": E(_l("There is no penalty case %(id)s.")),
    "not_found.provision": E(_l("There is no legal provision %(id)s.")),
    "validation_error.unknown_provision": E(_l("There is no legal provision %(id)s.")),
    "validation_error.unknown_order": E(_l("There is no rectification order %(id)s.")),
    "validation_error.unknown_audit": E(_l("There is no audit %(id)s.")),
    "validation_error.case_source": E(_l("A case is registered from an escalated rectification order or from an "
                                         "audit with a serious finding.")),
    "validation_error.provision_inactive": E(_l("Provision %(code)s is retired.")),
    "conflict.order_not_escalated": E(_l("Only an escalated rectification order leads to a penalty case.")),
    "conflict.order_has_case": E(_l("This rectification order has a penalty case already.")),
    "conflict.no_serious_finding": E(_l("This audit is not closed with a serious finding.")),
    "conflict.case_status": E(_l("The case is %(status)s: this step does not fit.")),
    "conflict.no_hearing_requested": E(_l("No hearing was asked for in this case.")),
    "validation_error.waiver_and_hearing": E(_l("A party that asked for a hearing has not waived it.")),
    "conflict.hearing_pending": E(_l("The party asked for a hearing: record it before the decision.")),
    "validation_error.date_out_of_order": E(_l("The date is before the previous step or after today.")),
    "validation_error.decision_too_early": E(_l("The party may ask for a hearing until %(until)s; decide after "
                                                "that day.")),
    "validation_error.fine_not_allowed": E(_l("%(provision)s provides no fine.")),
    "validation_error.fine_out_of_range": E(_l("%(provision)s allows a fine from %(min)s to %(max)s yuan.")),
    "validation_error.fine_without_fine": E(_l("An amount goes only with a fine.")),
    "validation_error.decision_text_required": E(_l("Say in words what the other measure is.")),
    "validation_error.fine_range": E(_l("Give both ends of the fine range, the lowest first.")),
    "too_many_pixels.photo": E(_l("The photo is %(width)s×%(height)s pixels; at most %(max_megapixels)s million "
                                  "pixels are accepted. Reduce it or take it at a lower resolution.")),
    "corrupt_image.photo": E(_l("The photo is damaged or incomplete: its size cannot be read.")),
    # --- safety incidents and emergency management -------------------------------------------------------------
    "not_found.incident": E(_l("There is no incident %(id)s.")),
    "not_found.attachment": E(_l("There is no attachment %(id)s.")),
    "not_found.emergency_plan": E(_l("There is no emergency plan %(id)s.")),
    "validation_error.incident_in_future": E(_l("The incident cannot have happened in the future.")),
    "validation_error.date_in_future": E(_l("Choose today or an earlier day.")),
    "validation_error.attachment_type": E(_l("Attach a photo (JPEG or PNG) or a PDF document.")),
    "validation_error.attachment_empty": E(_l("The file is empty.")),
    "payload_too_large.attachment": E(_l("The file is larger than %(max_mib)s MiB.")),
    "forbidden.enterprise_scope": E(_l("Enterprise %(code)s has none of your outlets.")),
    "conflict.incident_closed": E(_l("The incident is closed.")),
    "conflict.incident_not_graded": E(_l("Confirm the incident's grade before closing it.")),
    # --- traceability -----------------------------------------------------------------------------------------
    "not_found.case": E(_l("There is no case %(id)s.")),
    "not_found.case_no": E(_l("There is no case %(case_no)s.")),
    "not_found.watchlist": E(_l("Case %(case_no)s has no watchlist %(id)s.")),
    "not_found.evidence_event": E(_l("X-ray event %(id)s is not in your cases' evidence.")),
    "forbidden.not_case_investigator": E(_l("Case %(case_no)s is another investigator's.")),
    "forbidden.inspector_case": E(_l("Inspectors trace without a case.")),
    "forbidden.inspector_waybill_only": E(_l("Inspectors may trace a waybill number only.")),
    "case_pending": E(_l("Case %(case_no)s is waiting for approval and allows no queries yet."), 403),
    "case_refused": E(_l("Case %(case_no)s was refused and allows no queries."), 403),
    "case_expired": E(_l("Case %(case_no)s has expired and allows no more queries."), 403),
    "conflict.case_registered": E(_l("Case %(case_no)s is registered already.")),
    "conflict.case_expired": E(_l("Case %(case_no)s has expired.")),
    "conflict.case_pending": E(_l("Case %(case_no)s is still pending.")),
    "conflict.case_approved": E(_l("Case %(case_no)s is approved already.")),
    "conflict.case_refused": E(_l("Case %(case_no)s is refused already.")),
    "validation_error.case_validity_ended": E(_l("The validity of this case has already ended.")),
    "validation_error.agency_required": E(_l("Name the agency that runs the investigation.")),
    "validation_error.case_no_required": E(_l("An investigator traces under a case: give its number.")),
    "validation_error.one_query": E(_l("Give one query: a waybill number; an ID type and number; a phone number; a "
                                       "name and a period; or an outlet and a period.")),
    "validation_error.several_queries": E(_l("Give only one query, not %(fields)s.")),
    "validation_error.period_required": E(_l("Name and outlet queries need a period (from and to).")),
    "validation_error.period_reversed": E(_l("The end of the period is before its start.")),
    "validation_error.period_too_long": E(_l("A period is at most %(max_days)s days.")),
    # --- the access log's verification (what the verify page says) --------------------------------------------
    "access_log.missing": E(_l("Entry %(seq)s is missing (removed): the log goes from entry %(before)s to entry "
                               "%(next)s.")),
    "access_log.altered": E(_l("Entry %(seq)s does not match its hash: it was altered (or moved to another "
                               "position).")),
    "access_log.not_chained": E(_l("Entry %(seq)s does not chain to entry %(before)s: an entry was inserted, removed "
                                   "or reordered here, or entry %(before)s was altered and re-hashed.")),
    "access_log.checkpoint_mismatch": E(_l("Entry %(seq)s does not match the signed checkpoint %(file)s: the log was "
                                           "rewritten up to this entry.")),
    "access_log.truncated": E(_l("Entries %(first)s to %(last)s are missing although a signed checkpoint names entry "
                                 "%(last)s: the log was truncated after entry %(after)s.")),
    "access_log.bad_checkpoint": E(_l("The checkpoint %(file)s is damaged or its signature is wrong.")),
    "access_log.checkpoint_unlinked": E(_l("The checkpoint %(file)s does not follow the checkpoint before it: a "
                                           "checkpoint was removed, replaced or forged.")),
    "access_log.checkpoint_order": E(_l("The checkpoint %(file)s was signed before the checkpoint %(before)s.")),
    "access_log.rewritten_after_checkpoint": E(_l("Entry %(seq)s is dated before the checkpoint %(file)s was signed "
                                                  "but comes after it: entries after the checkpoint were rewritten.")),
    "access_log.unreadable": E(_l("Entry %(seq)s holds values of the wrong type: it was altered outside the "
                                  "application.")),
}


# marshmallow's own messages (and webargs', which are marshmallow's), as marshmallow 4 words them: ``localise``
# turns a message of this table, its {placeholders} filled, into the reader's language. Range's messages are
# composed when a validator is made, so each composition is listed.
VALIDATION_MESSAGES = (
    _l("Missing data for required field."), _l("Field may not be null."), _l("Invalid value."), _l("Invalid type."),
    _l("Invalid input type."), _l("Unknown field."), _l("Invalid input."), _l("Not a valid string."),
    _l("Not a valid integer."), _l("Not a valid number."), _l("Not a valid boolean."), _l("Not a valid date."),
    _l("Not a valid datetime."), _l("Not a valid time."), _l("Not a valid naive datetime."),
    _l("Not a valid aware datetime."), _l("Not a valid list."), _l("Not a valid tuple."),
    _l("Not a valid mapping type."), _l("Not a valid email address."), _l("Not a valid URL."),
    _l("Not a valid UUID."), _l("Not a valid period of time."), _l("Not a valid utf-8 string."),
    _l("Number too large."), _l("Special numeric values (nan or infinity) are not permitted."),
    _l("Length must be between {min} and {max}."), _l("Length must be {equal}."),
    _l("Longer than maximum length {max}."), _l("Shorter than minimum length {min}."),
    _l("Must be one of: {choices}."), _l("String does not match expected pattern."), _l("Must be equal to {other}."),
    _l("Must be greater than or equal to {min} and less than or equal to {max}."),
    _l("Must be greater than {min} and less than {max}."),
    _l("Must be greater than or equal to {min} and less than {max}."),
    _l("Must be greater than {min} and less than or equal to {max}."),
    _l("Must be greater than or equal to {min}."), _l("Must be greater than {min}."),
    _l("Must be less than or equal to {max}."), _l("Must be less than {max}."),
)
_PATTERNS: list[tuple[re.Pattern, object]] = []


def _patterns() -> list[tuple[re.Pattern, object]]:
    if not _PATTERNS:
        for lazy in VALIDATION_MESSAGES:
            template = lazy._args[0] if hasattr(lazy, "_args") else str(lazy)
            pattern = re.escape(template)
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", pattern)
            _PATTERNS.append((re.compile(pattern + r"\Z"), lazy))
    return _PATTERNS


def localise(messages):
    """Validation messages (marshmallow's, in English, or lazy strings of our schemas) in the reader's language,
    as plain strings, keeping their structure (field -> list, nested fields, indexes of lists)."""
    if isinstance(messages, dict):
        return {key: localise(value) for key, value in messages.items()}
    if isinstance(messages, (list, tuple)):
        return [localise(value) for value in messages]
    if not isinstance(messages, str):
        return str(messages) if messages is not None and not isinstance(messages, (int, float, bool)) else messages
    for pattern, lazy in _patterns():
        match = pattern.match(messages)
        if match:
            return str(lazy).format(**match.groupdict())
    return messages


def _entry(code: str) -> Entry:
    """The entry of ``code``, else of its API code (an unknown code is logged: every code belongs in the table)."""
    entry = MESSAGES.get(code)
    if entry is None:
        log.warning("error code %s has no entry in greenshield.errors.MESSAGES", code)
        entry = MESSAGES.get(code.partition(".")[0], MESSAGES["bad_request"])
    return entry


def status_of(code: str) -> int:
    entry = MESSAGES.get(code)
    if entry is not None and entry.status is not None:
        return entry.status
    return STATUS.get(code.partition(".")[0], 400)


def _param(value: object) -> object:
    if isinstance(value, (list, tuple, set, frozenset)):
        return "、".join(str(_param(v)) for v in value) if _chinese() else ", ".join(str(_param(v)) for v in value)
    return value


def _chinese() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "zh"


def message(code: str, params: Mapping | None = None, locale: str | None = None, *, column: str | None = None) -> str:
    """The message of ``code`` with ``params``, in the request's language (or ``locale``). ``column``, the input
    at fault (a daily-log column's key or a form field), is named in the message by its label (``%(column)s``)."""
    if locale is not None:
        with force_locale(locale):
            return message(code, params, column=column)
    text = str(_entry(code).message)
    values = {key: _param(value) for key, value in (params or {}).items()}
    if "reason_code" in values:  # an error inside another (an image's, on a line of a manifest): its message
        values["reason"] = message(values.pop("reason_code"), values.pop("reason_params", None))
    if "%(column)s" in text:
        values.setdefault("column", column_label(column or ""))
    if values:
        try:
            text = text % values
        except (KeyError, TypeError, ValueError):
            log.warning("message of %s does not fit its parameters %s", code, sorted(values))
    return text


def exception_message(exc: DomainError) -> str:
    return message(exc.code, exc.params, column=exc.field)


def on_field(exc: DomainError, field: str) -> DomainError:
    """A rule's refusal (an identity number, a code) as the error of the input ``field``."""
    exc.field = field
    return exc


def form_errors(exc: Exception) -> dict[str, list[str]]:
    """Messages by form field for a page to show beside its inputs (``_`` for the form as a whole)."""
    if isinstance(exc, ValidationError):
        messages = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        return {key: localise(value) if isinstance(value, list) else [localise(value)]
                for key, value in messages.items()}
    if isinstance(exc, DomainError):
        return {exc.field or "_": [exception_message(exc)]}
    raise TypeError(f"not a user error: {exc!r}")


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _json_safe(details):
    """``details`` with every mapping key a string: a multipart part whose name cannot be decoded is a ``None``
    field, and JSON (with sorted keys) has no place for it."""
    if isinstance(details, dict):
        return {"" if key is None else str(key): _json_safe(value) for key, value in details.items()}
    if isinstance(details, (list, tuple)):
        return [_json_safe(value) for value in details]
    return details


def error_response(status: int, code: str, message: str, details=None, headers=None):
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message, "details": _json_safe(details) or {}}})
    else:
        response = render_template("error.html", status=status, code=code, message=message, details=details)
    return response, status, headers or {}


def domain_error_response(exc: DomainError):
    text = exception_message(exc)
    details = exc.details or ({exc.field: [text]} if exc.field else {})
    return error_response(status_of(exc.code), exc.api_code, text, details)


NUL = "\x00"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def refuse_nul_characters() -> None:
    """``before_request``: text with a NUL character never reaches the database (PostgreSQL can neither store nor
    compare it). Raises NotFound for one in the path, Invalid (422) for one in the query, a form field or JSON."""
    if _has_nul(request.view_args or {}):
        raise NotFound("not_found.nul_character")
    fields = [name for name, value in request.args.items(multi=True) if _has_nul([name, value])]
    if request.mimetype in FORM_TYPES:
        fields += [name for name, value in request.form.items(multi=True) if _has_nul([name, value])]
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        fields += [str(key) for key, value in body.items() if _has_nul([key, value])]
    elif _has_nul(body):
        fields.append("_body")
    if fields:
        each = message("validation_error.nul_character_field")
        raise Invalid("validation_error.nul_character", details={name: [each] for name in fields})


def _validation_details(exc_data) -> dict:
    """webargs puts messages under their location ('json', 'form', 'query'); flatten for the user."""
    messages = (exc_data or {}).get("messages", {})
    if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in (
        "json", "form", "query", "files", "headers", "view_args",
    ):
        messages = next(iter(messages.values()))
    return messages


HTTP_CODES = {status: code for code, status in STATUS.items()
              if code in ("bad_request", "unauthenticated", "forbidden", "not_found", "method_not_allowed",
                          "conflict", "payload_too_large", "unsupported_media_type", "validation_error",
                          "too_many_requests", "internal_error")}


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_characters)
    app.add_template_global(message, "error_message")

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return domain_error_response(exc)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return error_response(422, "validation_error", message("validation_error"), localise(exc.messages))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        g.csrf_refused = True
        return error_response(400, "bad_request", message("bad_request.csrf"))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        if status == 422:
            return error_response(422, "validation_error", message("validation_error"),
                                  localise(_validation_details(getattr(exc, "data", None))))
        code = HTTP_CODES.get(status, exc.name.lower().replace(" ", "_"))
        details = localise(_validation_details(getattr(exc, "data", None))) if status == 400 else None
        text = message(code) if code in MESSAGES else (exc.description or exc.name)
        if details and "Invalid JSON body." in str(details):
            text = message("bad_request.not_json")
        headers = dict(exc.get_headers()) if status in (405, 429) else None
        if headers:
            headers.pop("Content-Type", None)
        return error_response(status, code, text, details, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", message("internal_error"))
