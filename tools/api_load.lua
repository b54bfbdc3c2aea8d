-- wrk script of tools/api_load.ts.
--
-- WRK_MODE=get (default): requests the URL as given (GET flows, GET stats).
-- WRK_MODE=put_flows: PUT .../flows (create or modify) cycling over
--   WRK_PUT_FLOWS (default 1000) distinct flows on in_port(WRK_PUT_IN_PORT)
--   (default 9), so the table does not grow; each thread takes its own share
--   of the flows. WRK_DP names the datapath (default dp0).
-- Every mode ends by writing one JSON line: requests, seconds, requests per
-- second, latency percentiles in microseconds, non-2xx answers and errors.

local mode = os.getenv("WRK_MODE") or "get"
local dp = os.getenv("WRK_DP") or "dp0"
local flows = tonumber(os.getenv("WRK_PUT_FLOWS") or "1000")
local in_port = tonumber(os.getenv("WRK_PUT_IN_PORT") or "9")

local thread_count = 0
function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

local counter = 0
local non2xx = 0

function init(args)
  counter = (thread_id or 0) * 100003
end

function request()
  if mode ~= "put_flows" then
    return wrk.format(nil)
  end
  counter = counter + 1
  local i = counter % flows
  local body = string.format(
    '{"flow":"in_port(%d),eth(),eth_type(0x0800),ipv4(src=10.9.%d.%d,proto=17,frag=no),udp(src=%d)","actions":"%d"}',
    in_port, math.floor(i / 256) % 256, i % 256, 1000, tonumber(os.getenv("WRK_PUT_OUT_PORT") or "2"))
  return wrk.format("PUT", "/v1/datapaths/" .. dp .. "/flows",
    { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if non2xx == 1 then
      io.stderr:write("wrk: status " .. status .. ": " .. string.sub(body or "", 1, 200) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '{"wrk":true,"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_us":%d,"p90_us":%d,' ..
      '"p99_us":%d,"max_us":%d,"non_2xx":%d,"errors":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
