-- Heartbeat: POST /api/license/session/heartbeat for live sessions opened just before the run
-- (one per license of the heartbeat pool), each thread rotating over its own slice. With 10k
-- sessions every one is beaten every few seconds, far inside the client's 90 s timeout, so
-- every heartbeat must answer 200.
-- Arguments: <heartbeat.tsv: session token, key> <API key> <wrk threads>
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local requests, position = {}, 0

function init(args)
  local path, nthreads = parse_args(args)
  for _, row in ipairs(my_slice(read_rows(path), nthreads)) do
    requests[#requests + 1] = post(
      "/api/license/session/heartbeat",
      string.format('{"session_token":"%s","license_key":"%s"}', row[1], row[2])
    )
  end
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function response(status, headers, body)
  if is_2xx(status) and body:find('"success":true', 1, true) then
    count("beaten")
  else
    count("unexpected")
  end
end
