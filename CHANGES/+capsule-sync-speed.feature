A capsule sync takes about half the time: grants are inserted without an index on their
repository and without conflict checks (writers of one user's or host's grants take turns
anyway). On the benchmark's Katello-shaped first sync (100 000 repositories, a million user
grants, 100 000 host grants) the server's time goes from about 19.5 s to about 10 s (9.7–10.5 s
in three first syncs on a shared 2-CPU machine; the performance page gives their median), with
the faster reading of mapping pushes. Run `pulpcore-manager migrate` after upgrading (migration
0002 drops that index).
