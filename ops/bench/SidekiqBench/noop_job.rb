# The Sidekiq side of ops/bench/sidekiq: a no-op job, and a clock that times the drain from the first job
# processed to the last (Sidekiq's boot and shutdown left out) and snapshots INFO commandstats at both ends.
# Loaded with `sidekiq -r`; BENCH_JOBS says how many jobs were pushed, BENCH_RESULT where to write the result
# (`jobs seconds commands`), REDIS_URL which server.
require "sidekiq"

# Debian pairs Sidekiq 6.4 with redis-rb 4.8, which warns on stderr at every BRPOP Sidekiq sends (positional
# timeout): silenced, so Sidekiq is not measured writing warnings.
Redis.silence_deprecations = true

module BenchClock
  @lock = Mutex.new
  @count = 0
  @total = Integer(ENV.fetch("BENCH_JOBS"))

  # Calls of every command Redis ran, the bench's own INFO left out.
  def self.commands
    info = Sidekiq.redis { |redis| redis.call("INFO", "commandstats") }
    info.each_line.sum do |line|
      next 0 unless line.start_with?("cmdstat_") && !line.start_with?("cmdstat_info:")
      line[/calls=(\d+)/, 1].to_i
    end
  end

  def self.tick
    count = @lock.synchronize { @count += 1 }
    if count == 1
      @first_commands = commands
      @first_at = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
    return unless count == @total
    seconds = Process.clock_gettime(Process::CLOCK_MONOTONIC) - @first_at
    File.write(ENV.fetch("BENCH_RESULT"), "#{@total - 1} #{seconds} #{commands - @first_commands}\n")
  end
end

class NoopJob
  include Sidekiq::Worker

  def perform(_index)
    BenchClock.tick
  end
end

Sidekiq.configure_server do |config|
  config.redis = { url: ENV.fetch("REDIS_URL") }
  # One line per job (start, done) at the default level; the scheduler bench logs at warning too.
  config.logger.level = Logger::WARN
end
