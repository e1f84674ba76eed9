-- wrk script: every request carries the bearer token the servers demand, and the run
-- ends with one machine-readable line of latency percentiles and error counts.
-- The token comes from the environment (BENCH_TOKEN), so it is never written to disk.
local token = os.getenv("BENCH_TOKEN")
if token == nil or token == "" then
  error("BENCH_TOKEN is not set")
end
wrk.headers["Authorization"] = "Bearer " .. token

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH p50_us=%d p99_us=%d requests=%d connect_err=%d read_err=%d write_err=%d timeout_err=%d status_err=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests,
    e.connect, e.read, e.write, e.timeout, e.status))
end
