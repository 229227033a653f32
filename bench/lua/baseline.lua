-- Baseline: GET / on the bare Starlette app. No request() or response() here, so wrk sends its
-- one static request at full speed and skips body parsing; common.lua only adds the report.
-- Non-2xx answers are counted by wrk itself (socket_errors.status).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")
