-- Rédacteur authoring: documents and templates written in the product, every save an
-- immutable version, and a review workflow draft → in_review → approved → published.
--
-- A template is authored as a document of kind 'template' with a code (the name the
-- reports page and schedules use). Publishing records which version is published, so a
-- published template keeps rendering that version while a new draft is edited. Each
-- version keeps the JSON text as written (`source`: key order and spacing), so a file
-- imported and exported again comes back byte for byte; `body` holds the same as jsonb.

ALTER TABLE redacteur.documents
    DROP CONSTRAINT IF EXISTS documents_status_check,
    ADD COLUMN kind text NOT NULL DEFAULT 'document' CHECK (kind IN ('document', 'template')),
    ADD COLUMN code text,
    ADD COLUMN published_version integer CHECK (published_version >= 1),
    ADD COLUMN review_comment text,
    ADD CONSTRAINT documents_status_known
        CHECK (status IN ('draft', 'in_review', 'approved', 'published', 'archived')),
    ADD CONSTRAINT documents_template_has_code CHECK (kind = 'document' OR code IS NOT NULL);
COMMENT ON COLUMN redacteur.documents.kind IS 'document, or template (offered to the reports page and schedules once published).';
COMMENT ON COLUMN redacteur.documents.code IS 'A template''s name in the reports page and schedules (weekly-site-report…).';
COMMENT ON COLUMN redacteur.documents.published_version IS 'The version rendered as the published document; a newer draft does not change it.';
COMMENT ON COLUMN redacteur.documents.review_comment IS 'The comment of the latest review action (why it went back to draft, say).';
CREATE UNIQUE INDEX documents_template_code_idx ON redacteur.documents (code)
    WHERE kind = 'template' AND deleted_at IS NULL;

ALTER TABLE redacteur.document_versions
    ADD COLUMN source text;
COMMENT ON COLUMN redacteur.document_versions.source IS 'The version''s JSON text exactly as saved or imported; body is the same parsed.';
