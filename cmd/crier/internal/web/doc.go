// Package web serves crier's optional HTTP listener (http.listen): Prometheus
// metrics, a health check, a server-rendered status page and a small JSON API.
//
// Endpoints (JSON field names are snake_case and stable; times are RFC 3339
// strings, or null when unknown; every field is always present):
//
//	GET  /                  status page: feed cards with actions and a 14-day chart, recent
//	                        stories, poll charts, notifiers, outbox, dead letters
//	GET  /healthz           200 "ok", or 503 and the reason
//	GET  /metrics           Prometheus text format (when Options.Metrics is set)
//	GET  /api/status        {version, now, healthy, health_reason, feeds, failing, outbox,
//	                         outbox_by_notifier, dead_letters, last_poll}
//	GET  /api/feeds         {feeds: [{name, url, schedule, title, link, last_poll, last_success,
//	                         next_poll, status, status_text, last_error, last_status, failures,
//	                         failing_since, backoff_until, gone, moved_to, new_today, new_total,
//	                         last_new, items, websub, paused, paused_since}]}; websub is null or
//	                         {state, hub, lease_expires, last_error}, state pending, active,
//	                         denied or failed; a paused feed's next_poll is null
//	                        status is ok, pending, error, backoff, gone or moved
//	GET  /api/outbox        {queues: [{notifier, depth, oldest, oldest_age_seconds, next_try, last_error}],
//	                         entries: [{id, notifier, kind, feed, title, link, attempts, next_try,
//	                         last_error, created}]}
//	GET  /api/deadletters   {dead_letters: [{id, notifier, kind, feed, title, link, attempts, reason,
//	                         created, died_at}]}
//	GET  /api/explain?link=URL
//	                        {link, text}: why the item at URL was or was not pushed, the text
//	                        `crier explain` prints (which asks here while the daemon runs)
//	GET  /api/backup        a consistent copy of the state file (application/octet-stream), what
//	                        `crier backup` fetches while the daemon runs; token off loopback
//	GET  /feeds/all.atom    the last 50 stories delivered (also all.json, JSON Feed 1.1, and
//	                        NOTIFIER.atom / NOTIFIER.json); ETag and gzip; token off loopback
//	POST /api/redeliver     body {"ids":[…]} or {"all":true} → {redelivered}
//	POST /api/poll?feed=N   → {feed, result, error, skipped, http_status, items, new, queued};
//	                        result is ok, not_modified, unchanged, skipped or error (then HTTP 502,
//	                        or 504 when it timed out); a paused feed is polled too
//	POST /api/pause?feed=N  → {feed, paused, paused_since}: no scheduled polls until resumed
//	                        (kept in the state file, survives restarts and reloads)
//	POST /api/resume?feed=N → {feed, paused, paused_since}
//	POST /api/test-notify?notifier=N
//	                        → {notifier, result, error}; result is sent or failed (then HTTP 502)
//	     /websub/…          WebSub hub callbacks (verification GET, content POST), when the
//	                        daemon subscribes (WithWebSub); outside the access rules below
//
// The status page's buttons are plain HTML forms posting to the same calls.
// A request that accepts text/html (a browser's form submission) takes its
// parameters from the form (feed, notifier; redeliver: all=1 or id=N) and is
// answered with 303 back to the page, which shows the outcome.
//
// Errors are {"error": "…"} with a 4xx or 5xx status. POSTs are allowed on a
// loopback or unix-socket listener (as marked by Listen), or anywhere with
// "Authorization: Bearer <token>"; otherwise 403. On a loopback listener
// every route answers 403 to a Host that is not a loopback name, unless the
// request carries the token (DNS rebinding). Feed URLs (url, moved_to,
// inside last_error and status_text, and the /feeds/ documents' source
// links and feed_url) are shown through crier.RedactURL.
package web
