-- Printed PDFs of frozen report revisions (app/reports/pdf.py): a frozen revision never changes, so its
-- PDF is printed once and then served from here by every API process. Keyed also by the month's latest
-- revision (the document lists every revision: a correction changes the older ones' PDFs too), the
-- language and the renderer version (templates, styles, wording). Running months are never stored.
CREATE TABLE report_pdfs (
    service_id       text NOT NULL,
    month            date NOT NULL,
    revision         integer NOT NULL CHECK (revision >= 1),
    latest_revision  integer NOT NULL CHECK (latest_revision >= revision),
    language         text NOT NULL,
    renderer         text NOT NULL,
    pdf              bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, month, revision, latest_revision, language, renderer),
    FOREIGN KEY (service_id, month, revision) REFERENCES report_snapshots (service_id, month, revision)
);
