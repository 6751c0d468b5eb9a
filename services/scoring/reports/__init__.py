"""The reports both teams read: the funnel and the scorecard, computed in SQL over scoring's facts."""
