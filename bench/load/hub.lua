-- wrk script for bench/load/run.py: one wrk thread = one signed-in user with
-- its own session cookie, walking its own list of pages (customer hubs and
-- /security) from the plan file written by the runner.
--
--   VECTIS_LOAD_PLAN=plan.txt wrk -t50 -c50 -d60s -s bench/load/hub.lua http://127.0.0.1:PORT
--
-- plan.txt: one line per user: "<session cookie value> <path> <path> ..."

local plan_path = os.getenv("VECTIS_LOAD_PLAN")
local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   local lines = {}
   for line in io.lines(plan_path) do
      table.insert(lines, line)
   end
   local mine = lines[(id % #lines) + 1]
   paths = {}
   cookie = nil
   for word in mine:gmatch("%S+") do
      if cookie == nil then cookie = word else table.insert(paths, word) end
   end
   position = 0
   -- Think time: each user waits a random while (exponential, this mean) before
   -- its next page, as a person reading one does; 0 keeps the closed loop.
   think_ms = tonumber(os.getenv("VECTIS_LOAD_THINK_MS") or "0")
   math.randomseed(id * 7919 + 17)
   ok, errors, redirects = 0, 0, 0
   hub_requests, security_requests = 0, 0
end

function delay()
   if think_ms <= 0 then return 0 end
   return math.floor(-think_ms * math.log(1 - math.random()))
end

function request()
   position = (position % #paths) + 1
   local path = paths[position]
   if path:sub(1, 10) == "/security/" then
      security_requests = security_requests + 1
   else
      hub_requests = hub_requests + 1
   end
   return wrk.format("GET", path, { ["Cookie"] = "sessionid=" .. cookie })
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   elseif status >= 300 and status < 400 then
      redirects = redirects + 1 -- a redirect here means the session was not accepted: an error
   else
      errors = errors + 1
   end
end

function done(summary, latency, requests)
   local ok_total, err_total, redirect_total, hubs, securities = 0, 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      ok_total = ok_total + thread:get("ok")
      err_total = err_total + thread:get("errors")
      redirect_total = redirect_total + thread:get("redirects")
      hubs = hubs + thread:get("hub_requests")
      securities = securities + thread:get("security_requests")
   end
   local e = summary.errors
   io.write(string.format(
      'VECTIS_LOAD_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "status_200": %d, "status_other": %d, ' ..
      '"redirects": %d, "hub_requests_sent": %d, "security_requests_sent": %d, ' ..
      '"socket_connect": %d, "socket_read": %d, "socket_write": %d, "socket_timeout": %d, "socket_status": %d, ' ..
      '"p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, summary.bytes, ok_total, err_total, redirect_total, hubs, securities,
      e.connect, e.read, e.write, e.timeout, e.status,
      latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
      latency.max, latency.mean))
end
