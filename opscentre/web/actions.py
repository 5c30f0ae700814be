"""What the console changes outside its own tables: acknowledging an alert."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from opscentre import auth
from opscentre.auth import AuthError, Principal
from opscentre.db import utcnow
from opscentre.models import Alert, AlertState


def acknowledge(db: Session, alert_id: int, who: Principal, address: str = "") -> Alert:
    """Mark an open alert acknowledged by `who` (committed, audited).

    Acknowledging an acknowledged alert changes nothing (a double click, two operators);
    a closed alert cannot be acknowledged (409): its condition is gone.
    """
    # FOR UPDATE on PostgreSQL: the rule evaluator may be closing this alert right now
    alert = db.scalar(select(Alert).where(Alert.id == alert_id).with_for_update())
    if alert is None:
        raise AuthError("error.not_found", 404)
    if alert.state == AlertState.CLOSED.value:
        raise AuthError("error.conflict", 409)
    if alert.state == AlertState.OPEN.value:
        alert.state = AlertState.ACKED.value
        alert.acked_at = utcnow()
        alert.acked_by = who.actor[:64]
        auth.audit(db, who.actor, "alert_acked", f"alert:{alert.id}", address,
                   {"rule": alert.rule, "terminal": alert.terminal_id, "subject": alert.subject})
    db.commit()
    return alert
