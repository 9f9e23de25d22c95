import pytest
from django.db import DatabaseError, connection, transaction

from shouwang.core.audit import audit_record, diff
from shouwang.core.masking import mask_id_number, mask_mobile
from shouwang.core.models import AuditEvent


def test_masks_follow_the_list_format():
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_mobile("13812345678") == "138****5678"
    assert mask_id_number("") == "" and mask_mobile("") == ""
    assert mask_id_number("E12345678") == "E123*5678"


def test_diff_lists_only_changed_fields():
    assert diff({"a": 1, "b": 2}, {"a": 1, "b": 3}) == {"b": [2, 3]}


def test_audit_log_refuses_changes_from_the_application(db):
    event = audit_record(actor=None, action="export", summary="导出", row_count=3)
    event.summary = "改过"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(id=event.id).update(summary="改过")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(id=event.id).summary == "导出"


def test_audit_log_refuses_changes_in_the_database_itself(db):
    event = audit_record(actor=None, action="export", summary="导出", row_count=3)
    for sql in ("UPDATE core_auditevent SET summary = 'x' WHERE id = %s", "DELETE FROM core_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.id])
    assert AuditEvent.objects.get(id=event.id).summary == "导出"
