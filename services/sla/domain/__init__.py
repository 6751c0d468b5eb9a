"""The SLA domain: business calendars. Pure logic: no database, no Kafka."""
