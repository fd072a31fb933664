using System.Diagnostics;
using CleanRealtime.IntegrationTests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace CleanRealtime.IntegrationTests.Persistence;

/// <summary>
/// Issue 16's reproduction, "restart a server whose database holds a 100,000-frame job" (here 300,000 messages): the replay purge that runs at
/// start goes in small transactions in the background, so submissions and jobs go on meanwhile, and the server stops
/// promptly in the middle of it; the next start finishes it.
/// </summary>
public sealed class MaintenanceTests
{
    // More than the issue's 100,000, so that the purge of a quiet machine (~20,000 messages a second) is still going when
    // the server is stopped.
    private const int Messages = 300_000;

    [Fact]
    public async Task Restart_WithA300000MessageJobToPurge_SubmissionsAndJobsGoOn_AndStopIsPromptMidPurge()
    {
        var first = await ServerFixture.StartAsync();
        try
        {
            await RestartMidPurgeAsync(first);
        }
        finally
        {
            await first.DisposeAsync();
        }
    }

    private static async Task RestartMidPurgeAsync(ServerFixture first)
    {
        var (old, _) = await first.RunJobAsync(ServerFixture.Synthetic(3, width: 64, height: 64), ["frame_quality"]);
        await first.StopAsync();
        var database = Path.Combine(first.Root, "jobs.db");
        var end = await AddMessagesThatEndedLongAgoAsync(database, old);

        var settings = new Dictionary<string, string?> { ["Realtime:ReplayRetention"] = "00:00:01" };
        var second = await ServerFixture.StartAsync(settings, root: first.Root);

        // The purge runs from the start, in the background: submissions answer at once, a job runs to its end.
        var clock = Stopwatch.StartNew();
        var id = await second.SubmitJobAsync(ServerFixture.Synthetic(10, width: 64, height: 64), ["frame_quality"]);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"POST /v1/jobs took {clock.Elapsed} during the purge");
        await second.WaitForStatusAsync(id, TimeSpan.FromSeconds(30), "completed");
        Assert.True(await FirstSeqAsync(database, old) < end - 1000, "the purge is still going when the job has finished");

        clock.Restart();
        await second.StopAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"stopping took {clock.Elapsed} while the purge ran");

        var left = await FirstSeqAsync(database, old);
        Assert.True(left < end, $"the stop cut the purge short (first kept {left})");
        var third = await ServerFixture.StartAsync(settings, root: first.Root);
        try
        {
            await ServerFixture.WaitUntilAsync(
                async () => await FirstSeqAsync(database, old) == end, TimeSpan.FromSeconds(120), "the next start finishes the purge");
            var events = await third.GetJsonAsync($"/v1/jobs/{old}/events?since={end - 1}");
            Assert.Equal(end, Assert.Single(events.GetProperty("items").EnumerateArray()).GetProperty("seq").GetInt64());
        }
        finally
        {
            await third.StopAsync();
        }
    }

    /// <summary>The job's log grows by 300,000 messages whose last ends it, all from the year 2000; returns the last seq.</summary>
    private static async Task<long> AddMessagesThatEndedLongAgoAsync(string database, Guid job)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        await connection.OpenAsync();
        long last;
        await using (var max = connection.CreateCommand())
        {
            max.CommandText = "SELECT MAX(Seq) FROM job_events WHERE JobId = $job;";
            max.Parameters.AddWithValue("$job", job.ToString("D"));
            last = (long)(await max.ExecuteScalarAsync())!;
        }

        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
        await using (var reset = connection.CreateCommand())
        {
            reset.CommandText = "UPDATE job_events SET EndsJob = 0 WHERE JobId = $job;";
            reset.Parameters.AddWithValue("$job", job.ToString("D"));
            await reset.ExecuteNonQueryAsync();
        }

        await using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO job_events (JobId, Seq, Type, Json, CreatedAtTicks, EndsJob) VALUES ($job, $seq, 'frame', $json, $at, $ends);";
        insert.Parameters.AddWithValue("$job", job.ToString("D"));
        var seq = insert.Parameters.Add("$seq", SqliteType.Integer);
        var json = insert.Parameters.Add("$json", SqliteType.Blob);
        insert.Parameters.AddWithValue("$at", new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks);
        var ends = insert.Parameters.Add("$ends", SqliteType.Integer);
        for (var s = last + 1; s <= last + Messages; s++)
        {
            seq.Value = s;
            json.Value = System.Text.Encoding.UTF8.GetBytes($"{{\"type\":\"frame\",\"seq\":{s}}}");
            ends.Value = s == last + Messages ? 1 : 0;
            await insert.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return last + Messages;
    }

    private static async Task<long> FirstSeqAsync(string database, Guid job)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        await connection.OpenAsync();
        await using var query = connection.CreateCommand();
        query.CommandText = "SELECT MIN(Seq) FROM job_events WHERE JobId = $job;";
        query.Parameters.AddWithValue("$job", job.ToString("D"));
        return (long)(await query.ExecuteScalarAsync())!;
    }
}
