using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace CleanRealtime.Infrastructure.Persistence;

/// <summary>
/// Appends rows with multi-row <c>INSERT … VALUES (…), (…)</c> statements built from the EF model (table, columns, value
/// converters, the provider's identifier quoting), so it runs on every provider, without the change tracker: EF's
/// <c>AddRange</c> + <c>SaveChanges</c> costs tens of µs of CPU per row, which a job pays for every frame and message.
/// For plain append-only rows (no store-generated values, no navigations to fix up). On SQLite, which runs statements in
/// process, one single-row <c>INSERT</c> is prepared once and executed for every row instead: SQLite binds a named
/// parameter by a linear scan of the statement's names, so a multi-row statement costs more per row than a prepared one.
/// </summary>
internal static class BulkInsert
{
    /// <summary>Parameters per multi-row statement (providers other than SQLite): statements stay a few KB of SQL.</summary>
    private const int MaxParameters = 240;

    /// <summary>Inserts <paramref name="rows"/> in the context's current transaction, if any. A failure is a <see cref="DbUpdateException"/>, as from SaveChanges.</summary>
    public static async Task InsertAsync<TEntity>(DbContext db, IReadOnlyList<TEntity> rows, CancellationToken cancellationToken)
        where TEntity : class
    {
        if (rows.Count == 0)
        {
            return;
        }

        if (db.Database.GetDbConnection() is SqliteConnection sqlite)
        {
            await InsertPreparedAsync(db, sqlite, rows, cancellationToken).ConfigureAwait(false);
            return;
        }

        var target = InsertTarget.Of<TEntity>(db);
        var columns = target.Columns;
        var rowsPerStatement = Math.Max(1, MaxParameters / columns.Length);
        for (var start = 0; start < rows.Count; start += rowsPerStatement)
        {
            var count = Math.Min(rowsPerStatement, rows.Count - start);
            var text = new StringBuilder(target.Head, target.Head.Length + (count * columns.Length * 8));
            var values = new object[count * columns.Length];
            for (var r = 0; r < count; r++)
            {
                text.Append(r == 0 ? " VALUES (" : ", (");
                for (var c = 0; c < columns.Length; c++)
                {
                    var index = (r * columns.Length) + c;
                    text.Append(c == 0 ? "{" : ", {").Append(index).Append('}');
                    values[index] = target.ProviderValue(c, rows[start + r]) ?? DBNull.Value;
                }

                text.Append(')');
            }

            try
            {
                await db.Database.ExecuteSqlRawAsync(text.ToString(), values, cancellationToken).ConfigureAwait(false);
            }
            catch (DbException ex)
            {
                throw new DbUpdateException($"Could not insert {count} {typeof(TEntity).Name} rows: {ex.Message}", ex);
            }
        }
    }

    /// <summary>SQLite: one prepared single-row statement, executed per row.</summary>
    private static async Task InsertPreparedAsync<TEntity>(DbContext db, SqliteConnection connection, IReadOnlyList<TEntity> rows, CancellationToken cancellationToken)
        where TEntity : class
    {
        var opened = connection.State != ConnectionState.Open;
        if (opened)
        {
            await db.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            using var insert = new PreparedInsert<TEntity>(db, connection);
            insert.Execute(rows, db.Database.CurrentTransaction?.GetDbTransaction() as SqliteTransaction, cancellationToken);
        }
        finally
        {
            if (opened)
            {
                await db.Database.CloseConnectionAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>
/// Where rows of an entity go, from the EF model: <c>INSERT INTO table (columns)</c> with the provider's identifier
/// quoting, the mapped columns, and how each one's value reaches the database (its value converter, if any).
/// </summary>
internal sealed class InsertTarget
{
    private readonly ValueConverter?[] _converters;

    private InsertTarget(string head, IProperty[] columns)
    {
        Head = head;
        Columns = columns;
        _converters = [.. columns.Select(c => c.GetValueConverter() ?? c.GetTypeMapping().Converter)];
    }

    /// <summary><c>INSERT INTO "table" ("a", "b")</c>, without the values.</summary>
    public string Head { get; }

    public IProperty[] Columns { get; }

    public static InsertTarget Of<TEntity>(DbContext db)
        where TEntity : class
    {
        var entity = db.Model.FindEntityType(typeof(TEntity)) ?? throw new InvalidOperationException($"{typeof(TEntity).Name} is not mapped.");
        var table = StoreObjectIdentifier.Table(
            entity.GetTableName() ?? throw new InvalidOperationException($"{typeof(TEntity).Name} has no table."), entity.GetSchema());
        var columns = entity.GetProperties().Where(p => p.PropertyInfo is not null).ToArray();
        var sql = db.GetService<ISqlGenerationHelper>();
        var head = new StringBuilder("INSERT INTO ").Append(sql.DelimitIdentifier(table.Name, table.Schema)).Append(" (");
        for (var c = 0; c < columns.Length; c++)
        {
            head.Append(c == 0 ? string.Empty : ", ").Append(sql.DelimitIdentifier(columns[c].GetColumnName(table) ?? columns[c].GetColumnName()));
        }

        return new InsertTarget(head.Append(')').ToString(), columns);
    }

    /// <summary>The value of column <paramref name="column"/> of <paramref name="row"/>, as the database stores it.</summary>
    public object? ProviderValue(int column, object row)
    {
        var value = Columns[column].PropertyInfo!.GetValue(row);
        return _converters[column] is not { } converter || value is null ? value : converter.ConvertToProvider(value);
    }

    /// <summary>The CLR type of column <paramref name="column"/>'s values as the database stores them.</summary>
    public Type ProviderType(int column) => _converters[column]?.ProviderClrType ?? Columns[column].ClrType;
}

/// <summary>
/// A single-row <c>INSERT</c> of <typeparamref name="TEntity"/> prepared once on a SQLite connection and executed for
/// any number of rows: SQL and columns from the EF model (as <see cref="BulkInsert"/>), each value bound as EF binds a
/// raw SQL value (the type mapping of its provider type, no facets). SQLite binds a named parameter by a linear scan
/// of the statement's names, so a prepared one-row statement costs less per row than a multi-row one.
/// </summary>
internal sealed class PreparedInsert<TEntity> : IDisposable
    where TEntity : class
{
    private readonly SqliteCommand _command;
    private readonly InsertTarget _target;
    private readonly DbParameter[] _parameters;

    public PreparedInsert(DbContext db, SqliteConnection connection)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(connection);
        _target = InsertTarget.Of<TEntity>(db);
        var mappings = db.GetService<IRelationalTypeMappingSource>();
        var columns = _target.Columns;
        var values = new StringBuilder();
        _command = connection.CreateCommand();
        _parameters = new DbParameter[columns.Length];
        for (var c = 0; c < columns.Length; c++)
        {
            var name = "$p" + c.ToString(CultureInfo.InvariantCulture);
            values.Append(c == 0 ? string.Empty : ", ").Append(name);
            var providerType = _target.ProviderType(c);
            var mapping = mappings.FindMapping(Nullable.GetUnderlyingType(providerType) ?? providerType)
                          ?? throw new InvalidOperationException($"No type mapping for {typeof(TEntity).Name}.{columns[c].Name} ({providerType.Name}).");
            _parameters[c] = mapping.CreateParameter(_command, name, null);
            _command.Parameters.Add(_parameters[c]);
        }

        _command.CommandText = $"{_target.Head} VALUES ({values})";
        try
        {
            _command.Prepare();
        }
        catch (DbException ex)
        {
            _command.Dispose();
            throw new DbUpdateException($"Could not prepare the insert of {typeof(TEntity).Name} rows: {ex.Message}", ex);
        }
    }

    /// <summary>Inserts the rows in <paramref name="transaction"/> (that of the connection, if it has one). A failure is a <see cref="DbUpdateException"/>.</summary>
    public void Execute(IReadOnlyList<TEntity> rows, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        _command.Transaction = transaction;
        try
        {
            for (var r = 0; r < rows.Count; r++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                for (var c = 0; c < _parameters.Length; c++)
                {
                    _parameters[c].Value = _target.ProviderValue(c, rows[r]) ?? DBNull.Value;
                }

                _command.ExecuteNonQuery();
            }
        }
        catch (DbException ex)
        {
            throw new DbUpdateException($"Could not insert {rows.Count} {typeof(TEntity).Name} rows: {ex.Message}", ex);
        }
    }

    public void Dispose() => _command.Dispose();
}
