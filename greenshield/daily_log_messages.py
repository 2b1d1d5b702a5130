"""The messages of daily-log row and file errors, by code, and their rendering in the reader's language.

``inspection`` reports what is wrong with a row (``RowError``) or a file (``InvalidLogFile``) as a code and
parameters; this table turns each code into a message (English msgid, translated in the catalogues), for the
batch page, the API, the CSV error report and the CLI alike. A row error's message names its column by the
column's label (``%(column)s``). To be folded into ``greenshield.errors.MESSAGES``, the one table of messages.
"""
from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from greenshield.web.labels import COLUMNS as COLUMN_LABELS

LEGACY = "legacy"
"""The code of errors stored before codes existed: their English sentence is the parameter ``message``."""

ROW_AND_FILE_MESSAGES: dict[str, object] = {
    # --- a cell of a row (validate_row) ---
    "validation_error.required": _l('"%(column)s" is required.'),
    "validation_error.too_long": _l('"%(column)s" is longer than %(max)s characters.'),
    "validation_error.too_large": _l('"%(column)s" is larger than %(max)s.'),
    "validation_error.not_positive_whole_number": _l('"%(column)s" must be a positive whole number.'),
    "validation_error.not_yes_no": _l('"%(column)s" must be yes or no: 是/否, Y/N, true/false or 1/0.'),
    "validation_error.waybill_format": _l('"%(column)s" must be %(min)s-%(max)s letters, digits or "-".'),
    "validation_error.not_datetime": _l('"%(column)s" is not a date and time like YYYY-MM-DD HH:MM:SS.'),
    "validation_error.no_time_of_day": _l(
        '"%(column)s" has a date but no time of day (use YYYY-MM-DD HH:MM:SS).'),
    "validation_error.impossible_datetime": _l('"%(column)s" is not a real date and time.'),
    "validation_error.before_2000": _l('"%(column)s" is before the year 2000.'),
    "validation_error.in_future": _l('"%(column)s" is more than a day in the future.'),
    "validation_error.other_outlet": _l(
        'The row names another outlet, but the file is uploaded for outlet "%(outlet)s".'),
    "validation_error.id_no_without_type": _l("ID number given without an ID type."),
    "validation_error.id_type_without_no": _l("ID type given without an ID number."),
    "validation_error.invalid_json": _l("The row is not a JSON object (invalid JSON)."),
    "validation_error.not_json_object": _l("The row is not a JSON object."),
    # --- identity documents and phone numbers (inspection.identity) ---
    "validation_error.unknown_id_type": _l("Unknown ID type."),
    "validation_error.id_type_missing": _l("The ID type is missing."),
    "validation_error.id_no_empty": _l("The ID number is empty."),
    "validation_error.id_body": _l("The first 17 characters of an ID number must be digits."),
    "validation_error.id_gb11643_shape": _l(
        "The ID number must be 18 characters: 17 digits and a check digit (0-9 or X)."),
    "validation_error.id_birth_date_impossible": _l("The ID number contains an impossible birth date."),
    "validation_error.id_birth_date_future": _l("The ID number contains a birth date in the future."),
    "validation_error.id_check_digit": _l("The ID number's check digit is wrong."),
    "validation_error.id_province": _l("The resident ID number does not start with a known province code."),
    "validation_error.id_hmt_area": _l(
        "A residence permit number must start with the area code of Hong Kong (810000), Macao (820000) or "
        "Taiwan (830000)."),
    "validation_error.id_foreign_old_shape": _l(
        "A 15-character foreign permanent resident ID is 3 letters and 12 digits."),
    "validation_error.id_foreign_shape": _l(
        "A foreign permanent resident ID is 18 characters starting with 9, or 3 letters and 12 digits."),
    "validation_error.id_hk_mo_shape": _l("A Hong Kong/Macao permit number is H or M followed by 8 or 10 digits."),
    "validation_error.id_tw_shape": _l("A Taiwan permit number is 8 digits."),
    "validation_error.id_shape": _l("An ID number of this type is 4-32 letters and digits."),
    "validation_error.phone_empty": _l("The phone number is empty."),
    "validation_error.phone_characters": _l(
        "A phone number may only contain digits, a leading +, -, spaces and parentheses."),
    "validation_error.phone_international_length": _l("An international phone number has 5-20 digits."),
    "validation_error.phone_length": _l("A phone number has 5-20 digits."),
    "validation_error.mobile_shape": _l("A mainland mobile number is 11 digits starting with 13-19."),
    "validation_error.credit_code_empty": _l("The credit code is empty."),
    "validation_error.credit_code_body": _l(
        "The first 17 characters of a credit code must be 0-9 or A-Y without I, O, S, V, Z."),
    "validation_error.credit_code_shape": _l(
        "A credit code is 18 characters of 0-9 and A-Y without I, O, S, V, Z, with digits in positions 3-8."),
    "validation_error.credit_code_check": _l("The credit code's check character is wrong."),
    # --- the file as a whole (InvalidLogFile) ---
    "empty_file": _l("The file is empty."),
    "too_large": _l("The file is %(size_mib).1f MiB; the limit is %(limit_mib).1f MiB. Split it by day."),
    "unsupported_format.pdf": _l(
        "The file is a PDF document, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.png": _l(
        "The file is a PNG image, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.jpeg": _l(
        "The file is a JPEG image, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.gif": _l(
        "The file is a GIF image, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.tiff": _l(
        "The file is a TIFF image, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.gzip": _l(
        "The file is a gzip archive, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.bzip2": _l(
        "The file is a bzip2 archive, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.7z": _l(
        "The file is a 7-Zip archive, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.rar": _l(
        "The file is a RAR archive, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.zip": _l(
        "The file is a ZIP archive, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.rtf": _l(
        "The file is an RTF document, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.binary": _l(
        "The file is binary data, not a daily log. Upload the daily log as CSV, XLSX (Excel workbook) "
        "or JSON Lines."),
    "unsupported_format.utf32": _l("The file is UTF-32 text, which is not read. Save it as CSV UTF-8."),
    "unsupported_format.json_array": _l(
        "The file is a JSON array, not a daily log: write one JSON object per line (JSON Lines) instead."),
    "unsupported_format.html": _l(
        "The file is an HTML or XML page, not a daily log (some systems save these with an .xls name): open it "
        "in Excel and save it as .xlsx."),
    "unsupported_format.xlsb": _l("The file is an Excel binary workbook (.xlsb): save it as .xlsx."),
    "unsupported_format.opendocument": _l("The file is an OpenDocument spreadsheet: save it as .xlsx."),
    "unsupported_format.office_document": _l(
        "The file is an Office document that is not a workbook. Upload the daily log as CSV, XLSX (Excel "
        "workbook) or JSON Lines."),
    "undecodable_text": _l(
        "Line %(line)s of the file is neither UTF-8 nor GB18030 (GBK) text. Save the file again as CSV UTF-8."),
    "undecodable_text.mixed": _l(
        "Line %(line)s of the file is not %(encoding)s text like the lines before it: the file mixes character "
        "encodings. Save it again as CSV UTF-8."),
    "undecodable_text.mixed_part": _l(
        "Part of the file is not %(encoding)s text like the lines before it: the file mixes character "
        "encodings. Save it again as CSV UTF-8."),
    "undecodable_text.start": _l("The start of the file is not %(encoding)s text. Save it again as CSV UTF-8."),
    "malformed_csv": _l('The CSV file is malformed near line %(line)s; check for an unclosed quote (").'),
    "no_header.file": _l(
        "No header row found: none of the first rows of the file names a daily-log column such as %(columns)s."),
    "no_header.worksheet": _l(
        "No header row found: none of the first rows of the first worksheet names a daily-log column such as "
        "%(columns)s."),
    "no_header.jsonl": _l(
        "No daily-log key found: no object of the JSON Lines file has a key such as %(columns)s."),
    "encrypted_xlsx": _l(
        "The file is a password-protected workbook or a legacy Excel 97-2003 (.xls) file. Remove the password "
        "and save it as an Excel workbook (.xlsx) or CSV."),
    "encrypted_xlsx.password": _l(
        "The workbook is encrypted. Remove the password, save it as .xlsx and upload it again."),
    "corrupt_xlsx": _l(
        "The Excel workbook is damaged or incomplete. Open it in Excel or WPS, save it again as .xlsx and "
        "upload that."),
    "corrupt_xlsx.not_zip": _l(
        "The Excel workbook is damaged or incomplete (not a complete ZIP container). Open it in Excel or WPS, "
        "save it again as .xlsx and upload that."),
    "corrupt_xlsx.after_row": _l(
        "The Excel workbook is damaged or incomplete: its worksheet is unreadable after row %(row)s. Open it in "
        "Excel or WPS, save it again as .xlsx and upload that."),
    "zip_bomb": _l("The workbook expands to far more data than a daily log holds; it was not opened."),
    "missing_columns": _l("Required columns are missing: %(columns)s."),
    "no_rows": _l("The file has a header row but no data rows."),
}
"""Message of each row and file error code, with ``%(name)s`` placeholders for its parameters."""

def render(code: str, params: Mapping | None = None, column: str | None = None) -> str:
    """The message of ``code`` in the current locale (flask_babel), filled with ``params``; for a row error,
    ``column`` (its English key) is shown by its translated label. ``legacy`` errors give their stored English
    message; an unknown code gives itself (a newer release's code read by an older one)."""
    values = dict(params or {})
    if code == LEGACY:
        return str(values.get("message", ""))
    message = ROW_AND_FILE_MESSAGES.get(code)
    if message is None:
        return code
    if column is not None:
        values["column"] = str(COLUMN_LABELS.get(column, column))
    return str(message) % values
