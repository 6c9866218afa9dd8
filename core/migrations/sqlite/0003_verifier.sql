-- The reveal proof's verifier W = SHA-256(P) (DESIGN §7.1): a reveal or status call must show P.
-- NULL only for secrets stored before verifiers existed; those still reveal with the key.
ALTER TABLE secrets ADD COLUMN verifier BLOB;
