-- Shared by every scenario script (loaded with dofile): thread ids, data files, counters and
-- the one JSON line `done()` prints for bench/run_bench.py.
--
-- Scenario scripts take their arguments after wrk's `--`:
--   <data file> <API key> <number of wrk threads>
-- and define init/request/response. Each wrk thread has its own Lua state, so every global
-- below exists once per thread; `done()` runs in the main state and collects them.

local threads = {}
local next_thread_id = 0

-- Each thread gets a distinct id before init() runs, so it can take its own slice of a pool.
function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

-- Per-thread counters the scenarios fill in; they travel to done() through thread:get.
counters = { non2xx = 0, unexpected = 0 }

function count(name, n)
  counters[name] = (counters[name] or 0) + (n or 1)
end

function read_rows(path)
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  local rows = {}
  for line in file:lines() do
    local fields = {}
    for field in line:gmatch("[^\t]+") do
      fields[#fields + 1] = field
    end
    rows[#rows + 1] = fields
  end
  file:close()
  return rows
end

-- Rows i with i % nthreads == thread_id: disjoint slices, so no two threads touch one license.
function my_slice(rows, nthreads)
  local mine = {}
  for i = thread_id + 1, #rows, nthreads do
    mine[#mine + 1] = rows[i]
  end
  assert(#mine > 0, "thread " .. thread_id .. " got no rows from its pool")
  return mine
end

function parse_args(args)
  local path, api_key, nthreads = args[1], args[2], tonumber(args[3])
  assert(path and api_key and nthreads, "arguments: <data file> <API key> <wrk threads>")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = api_key
  return path, nthreads
end

function post(path, body)
  return wrk.format("POST", path, nil, body)
end

-- Every response outside 2xx is counted here as well as by wrk (which only counts >= 400).
function is_2xx(status)
  if status >= 200 and status < 300 then
    return true
  end
  count("non2xx")
  return false
end

local function encode(value)
  if type(value) == "table" then
    local parts = {}
    for key, item in pairs(value) do
      parts[#parts + 1] = string.format("%q:%s", tostring(key), encode(item))
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif type(value) == "number" then
    return string.format("%.17g", value)
  end
  return string.format("%q", tostring(value))
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for name, value in pairs(thread:get("counters") or {}) do
      totals[name] = (totals[name] or 0) + value
    end
  end
  local seconds = summary.duration / 1e6
  local result = {
    requests = summary.requests,
    seconds = seconds,
    requests_per_second = summary.requests / seconds,
    latency_ms = {
      p50 = latency:percentile(50) / 1000,
      p90 = latency:percentile(90) / 1000,
      p99 = latency:percentile(99) / 1000,
      mean = latency.mean / 1000,
      max = latency.max / 1000,
    },
    socket_errors = summary.errors,
    counters = totals,
  }
  io.write("BENCH_RESULT ", encode(result), "\n")
end
