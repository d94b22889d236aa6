# Alert rules, alert events, channels and deliveries arrive with the alerts issue.
