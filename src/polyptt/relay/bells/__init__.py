"""Bell schedules: pages the relay sends on a timetable (issue 20).

`timetable` says when (cron, time zone, skip dates, daylight-saving rules; pure),
`runner` rings them (``relay.bells``), `api` is their HTTP face, `persist` their
tables in the relay's database, `sound` their audio, `listing` what ``polyptt relay
schedule`` prints without a running relay.
"""
