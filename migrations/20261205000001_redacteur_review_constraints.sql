-- Rédacteur: what the review workflow relies on, held by the database. A template
-- serves every site, so it belongs to none; a published version is one that was saved.
--
-- Rows written before these rules are brought in line first: a template given a site
-- becomes shared, and a document published before versions were tracked publishes its
-- current version.
UPDATE redacteur.documents SET site_id = NULL WHERE kind = 'template' AND site_id IS NOT NULL;
UPDATE redacteur.documents SET published_version = current_version
    WHERE status = 'published' AND published_version IS NULL;
UPDATE redacteur.documents SET published_version = current_version
    WHERE published_version > current_version;
ALTER TABLE redacteur.documents
    ADD CONSTRAINT documents_template_has_no_site CHECK (kind = 'document' OR site_id IS NULL),
    ADD CONSTRAINT documents_published_version_saved
        CHECK (published_version IS NULL OR published_version <= current_version);
