"""remembered keys: an API key checked by an earlier request is confirmed inside the request's
own first transaction, in the same round trip as the viewer's settings, instead of by a lookup
of its own (api/auth.py, geo/store/viewer.py)

veta_confirm_api_key raises SQLSTATE 28000 (invalid authorization) unless the key is still
valid now — not revoked, not expired — and still of the organisation and role remembered, so
that the transaction it opens can read nothing for a key that has stopped being valid.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 12:10:00
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

CONFIRM_KEY = """
CREATE FUNCTION veta_confirm_api_key(key_digest text, organisation integer, key_role text)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM FROM api_keys k
    WHERE k.digest = key_digest AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > now())
      AND k.organisation_id = organisation AND k.role = key_role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the API key is no longer valid as remembered' USING ERRCODE = '28000';
    END IF;
END $$;
"""


def upgrade() -> None:
    op.execute(CONFIRM_KEY)


def downgrade() -> None:
    op.execute("DROP FUNCTION veta_confirm_api_key(text, integer, text)")
