-- The throttle orders attempts by counting failures after their check (see
-- service/auth/throttle.rs): attempts in flight are no longer counted.
ALTER TABLE auth_failures DROP COLUMN pending;
