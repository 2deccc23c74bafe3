The log line Pulp writes for each Katello push (`pulp_katello_gateway.app.katello.views`, INFO)
now says where its time went: reading and parsing the body, validating it, writing it, and for
grants the write's COPY, difference and insert, so a slow capsule sync shows whether Python or
PostgreSQL takes the time.
