-- 0011: a TOTP code is good once (RFC 6238, section 5.2). Each account keeps the time step of the last
-- code it logged in with; a code of that step or an earlier one is refused, also one seen by an
-- observer and replayed within its 30 seconds, or a second login racing the first with the same code.

ALTER TABLE users ADD COLUMN totp_last_step bigint CHECK (totp_last_step >= 0);

-- Login, step 1, as in 0004 with the step of the account's last code.
DROP FUNCTION login_lookup(text);
CREATE FUNCTION login_lookup(name text, OUT user_id bigint, OUT password_hash text, OUT totp_secret bytea,
                             OUT locked boolean, OUT totp_last_step bigint)
	LANGUAGE sql STABLE SECURITY DEFINER
	AS $$ SELECT id, password_hash, totp_secret, coalesce(locked_until > now(), false), totp_last_step
	      FROM public.users WHERE username = name AND NOT disabled $$;

-- Login, step 2 with a code: the code's step becomes the account's last, unless a code of that step or a
-- later one was accepted already (then false, and the login fails).
CREATE FUNCTION login_totp_step(uid bigint, step bigint) RETURNS boolean LANGUAGE sql SECURITY DEFINER
	AS $$
	WITH used AS (
		UPDATE public.users SET totp_last_step = step
		WHERE id = uid AND coalesce(totp_last_step, -1) < step
		RETURNING 1
	)
	SELECT EXISTS (SELECT FROM used) $$;

REVOKE ALL ON FUNCTION login_lookup(text), login_totp_step(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION login_lookup(text), login_totp_step(bigint, bigint) TO tip_app;
