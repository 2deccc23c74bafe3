Katello's user and host mapping pushes are read by a shortcut that builds exactly what Rack's
rules build: one regular expression splits the body into its values, each distinct value is
unescaped once, and each distinct `{repository, auth_required}` entry is built once and shared,
read-only, by every user or host listing it. Reading and parsing a capsule sync's 159 MB user
mapping takes about 2 s, and the worker taking it peaks at about 365 MiB instead of about
550 MiB. Any other body still goes through the port of Rack's rules.
