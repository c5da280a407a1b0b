"""`planwatch cluster`: N replicas of every service on this machine, detached, over the local
Kafka and FerretDB (docs/demo.md, "A cluster of replicas")."""
