# Pushes N no-op jobs onto Sidekiq's default queue with push_bulk, 1,000 per call (before the timed drain).
# Usage: ruby push.rb N   (REDIS_URL names the server)
require "sidekiq"

# Debian pairs Sidekiq 6.4 with redis-rb 4.8, which warns on stderr at every BRPOP Sidekiq sends (positional
# timeout): silenced, so Sidekiq is not measured writing warnings.
Redis.silence_deprecations = true

Sidekiq.configure_client { |config| config.redis = { url: ENV.fetch("REDIS_URL") } }
total = Integer(ARGV.fetch(0))
(0...total).each_slice(1000) do |slice|
  Sidekiq::Client.push_bulk("class" => "NoopJob", "queue" => "default", "args" => slice.map { |index| [index] })
end
