"""The scoring domain: leads, rules and the lifecycle engine. Pure logic: no database, no Kafka."""
