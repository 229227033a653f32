-- Session start/end cycle: every license of the session pool, in turn, starts its one session
-- (POST /api/license/session/start, license row lock + several statements) and ends it again
-- (POST /api/license/session/end) with the token the start answered.
--
-- response() is not told which connection or request it answers, so tokens go through a
-- per-thread queue instead of staying with their connection: a start's token is queued when
-- its answer arrives, and request() sends an end for a queued token whenever there is one, a
-- start for the next license otherwise. At most one request per connection is in flight, so
-- only a handful of sessions are open at once; a thread comes back to a license only after
-- starting every other license of its slice (thousands of requests later), long after that
-- license's session ended. A 409 (session conflict) is therefore a bug and counts as
-- unexpected. requests/s counts starts and ends; a cycle is two requests.
-- Arguments: <session.tsv: key, device> <API key> <wrk threads>
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local licenses, next_license = {}, 0
local tokens, head, tail = {}, 1, 0

function init(args)
  local path, nthreads = parse_args(args)
  licenses = my_slice(read_rows(path), nthreads)
end

local function start_next()
  next_license = next_license % #licenses + 1
  local license = licenses[next_license]
  return post(
    "/api/license/session/start",
    string.format(
      '{"license_key":"%s","machine_id":"BENCH-PC","hardware_hash":"%s","version":"1.0.0"}',
      license[1],
      license[2]
    )
  )
end

local function end_queued()
  local token = tokens[head]
  tokens[head], head = nil, head + 1
  return post("/api/license/session/end", string.format('{"session_token":"%s"}', token))
end

function request()
  if head <= tail then
    return end_queued()
  end
  return start_next()
end

function response(status, headers, body)
  if not is_2xx(status) then
    count("unexpected")
  elseif body:find('"end_reason":"normal"', 1, true) then
    count("ended")
  else
    local token = body:find('"message":"Session started"', 1, true) and body:match('"session_token":"([^"]+)"')
    if token then
      tail = tail + 1
      tokens[tail] = token
      count("started")
    else
      count("unexpected")
    end
  end
end
