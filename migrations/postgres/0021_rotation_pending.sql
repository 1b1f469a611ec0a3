-- A rotation stores the new secret here, sealed (AAD: the credential's uid, field
-- "rotation_pending"), before it changes the device, so a process that dies between changing the
-- device and committing leaves the value behind: the next process to claim the credential sends
-- it again and commits it (service/pam/rotation/job.rs). For SSH keys, the new public key
-- waits beside it. Both are cleared in the change that makes the value current.
ALTER TABLE credentials ADD COLUMN rotation_pending BYTEA;
ALTER TABLE credentials ADD COLUMN rotation_pending_public_key TEXT NOT NULL DEFAULT '';
