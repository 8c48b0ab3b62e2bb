-- POST /token grant_type=refresh_token where every request presents a refresh token never
-- used before: thread i takes lines i, i+n, i+2n… of the prepared file (BENCH_TOKENS, one
-- token a line; BENCH_THREADS = n), and each answer's new refresh token joins the back of the
-- thread's queue, so a run longer than the file keeps presenting fresh tokens. An empty queue
-- sends a token that cannot exist and shows up as errors.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local queue, head, tail = {}, 1, 0
local headers

function init(args)
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line ~= "" then
      if i % threads == id then
        tail = tail + 1
        queue[tail] = line
      end
      i = i + 1
    end
  end
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
  }
end

function request()
  local token = "exhausted"
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  end
  return wrk.format("POST", os.getenv("BENCH_PATH") or "/token", headers,
    "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    tail = tail + 1
    queue[tail] = token
  end
end
