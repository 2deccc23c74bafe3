Fewer database queries on the pull path: a recorded manifest GET looks up who pulled once (the
pull record no longer reads the Foreman user's login or the host's uuid again), a manifest GET
with `KATELLO_GATEWAY_PULL_RECORD = False` looks nobody up, a host's token no longer reads its uuid
again for the token's host claim, a Foreman user's or host's grant is read with the repository in
one statement, and a cached login's entries come with their Foreman user: a token for a cached
Foreman login takes 6 queries instead of 8. Nothing to re-check after upgrading.
