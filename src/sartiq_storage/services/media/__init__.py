"""Media resources: ingestion, attachments, deferred deletion."""
