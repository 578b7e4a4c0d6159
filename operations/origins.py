"""Remember where rows came from (models.Origin): the demo, later imports."""

import sqlalchemy as sa

from models import Origin, db


def record(
    source: str,
    target_type: str,
    source_key: str,
    *,
    target_id: int | None = None,
    target_key: str | None = None,
) -> None:
    """Note that source created this row (once: a second call changes nothing)."""
    if target_type not in Origin.TARGET_TYPES:
        raise ValueError(target_type)
    found = db.session.scalar(
        sa.select(Origin).where(
            Origin.source == source,
            Origin.target_type == target_type,
            Origin.source_key == source_key,
        )
    )
    if found is None:
        db.session.add(
            Origin(
                source=source,
                target_type=target_type,
                source_key=source_key[:255],
                target_id=target_id,
                target_key=target_key,
            )
        )


def target_ids(source: str, target_type: str) -> set[int]:
    """The ids of the rows of one type that source created."""
    return set(
        db.session.scalars(
            sa.select(Origin.target_id).where(
                Origin.source == source,
                Origin.target_type == target_type,
                Origin.target_id.is_not(None),
            )
        )
    )


def target_keys(source: str) -> set[str]:
    """The settings that source wrote."""
    return set(
        db.session.scalars(
            sa.select(Origin.target_key).where(
                Origin.source == source,
                Origin.target_type == "setting",
                Origin.target_key.is_not(None),
            )
        )
    )


def forget(source: str) -> None:
    """Drop every record of source (its rows now belong to the school)."""
    db.session.execute(sa.delete(Origin).where(Origin.source == source))


def find_target(source: str, target_type: str, source_key: str) -> int | None:
    """The id of the row source created for this key, if it noted one."""
    return db.session.scalar(
        sa.select(Origin.target_id).where(
            Origin.source == source,
            Origin.target_type == target_type,
            Origin.source_key == source_key[:255],
        )
    )


def point(source: str, target_type: str, source_key: str, target_id: int) -> None:
    """Note that this key of source is now the row target_id (a re-import
    recreates a row the school deleted since, so the id may change)."""
    found = db.session.scalar(
        sa.select(Origin).where(
            Origin.source == source,
            Origin.target_type == target_type,
            Origin.source_key == source_key[:255],
        )
    )
    if found is None:
        record(source, target_type, source_key, target_id=target_id)
    else:
        found.target_id = target_id
