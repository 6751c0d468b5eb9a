"""SLA: business-hours follow-up timers, rejection loops, alerts and their feeds."""
