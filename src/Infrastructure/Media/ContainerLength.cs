using System.Buffers.Binary;

namespace CleanRealtime.Infrastructure.Media;

/// <summary>
/// How many bytes a video file's container says it holds, read from its top-level structure: the chunk sizes of
/// RIFF (AVI, including OpenDML's RIFF-AVIX continuation chunks), the box sizes of ISO BMFF (MP4, MOV, 3GP), and the
/// Segment size of Matroska (MKV, WebM). A complete file holds at least that many bytes; a file cut short does not.
/// </summary>
/// <remarks>
/// This is the evidence of truncation: OpenCV's FFmpeg backend reports the end of a cut file exactly as it reports a
/// normal end, and a container's frame count is no evidence (an AVI index may hold zero-size "repeat" frames that
/// decode to nothing, and a variable-frame-rate file's count is an estimate).
/// </remarks>
internal static class ContainerLength
{
    private const uint MatroskaEbml = 0x1A45DFA3;
    private const uint MatroskaSegment = 0x18538067;

    private static readonly string[] IsoBoxTypes = ["ftyp", "moov", "mdat", "free", "skip", "wide", "pnot", "styp"];

    /// <summary>The length the container declares, or null when the format is not one of the above or leaves it open.</summary>
    public static long? Declared(Stream file)
    {
        ArgumentNullException.ThrowIfNull(file);
        Span<byte> head = stackalloc byte[12];
        file.Position = 0;
        if (file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) < head.Length)
        {
            return null;
        }

        if (head[..4].SequenceEqual("RIFF"u8))
        {
            return RiffLength(file);
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(head) == MatroskaEbml)
        {
            return MatroskaLength(file);
        }

        var type = System.Text.Encoding.ASCII.GetString(head[4..8]);
        return IsoBoxTypes.Contains(type, StringComparer.Ordinal) ? IsoLength(file) : null;
    }

    /// <summary>Top-level chunks, each a four-character tag, a little-endian 32-bit size and the data (padded to even).</summary>
    private static long? RiffLength(Stream file)
    {
        Span<byte> header = stackalloc byte[8];
        long position = 0;
        long declared = 0;
        while (position + header.Length <= file.Length)
        {
            file.Position = position;
            file.ReadExactly(header);
            if (!header[..4].SequenceEqual("RIFF"u8))
            {
                break;
            }

            var size = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            declared = position + header.Length + size;
            position = declared + (size & 1);
        }

        return declared;
    }

    /// <summary>Top-level boxes: a big-endian 32-bit size (1: a 64-bit size follows; 0: up to the end of the file) and a type.</summary>
    private static long? IsoLength(Stream file)
    {
        Span<byte> header = stackalloc byte[16];
        long position = 0;
        while (position + 8 <= file.Length)
        {
            file.Position = position;
            var read = file.ReadAtLeast(header, 8, throwOnEndOfStream: false);
            if (!IsBoxType(header[4..8]))
            {
                // Bytes after the last box that are no box (a trailer some cameras append): nothing more is declared.
                return position;
            }

            long size = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (size == 0)
            {
                return file.Length;
            }

            if (size == 1)
            {
                if (read < 16)
                {
                    return position + 16;
                }

                size = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(header[8..]), long.MaxValue - (ulong)position);
            }

            if (size < 8)
            {
                return null;
            }

            position += size;
        }

        return position;
    }

    private static bool IsBoxType(ReadOnlySpan<byte> type)
    {
        foreach (var b in type)
        {
            if (b is < 0x20 or > 0x7E)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The EBML header element, then the Segment: ids and sizes are EBML variable-length integers.</summary>
    private static long? MatroskaLength(Stream file)
    {
        file.Position = 4;
        if (ReadVarInt(file) is not { } headerSize)
        {
            return null;
        }

        file.Position += headerSize;
        Span<byte> id = stackalloc byte[4];
        if (file.Position + id.Length > file.Length)
        {
            return file.Position + id.Length;
        }

        file.ReadExactly(id);
        if (BinaryPrimitives.ReadUInt32BigEndian(id) != MatroskaSegment)
        {
            return null;
        }

        // An unknown size (all value bits set) is what a live recording writes: the file ends where it ends.
        return ReadVarInt(file) is { } segmentSize ? file.Position + segmentSize : null;
    }

    /// <summary>An EBML size: the count of leading zero bits of the first byte gives its length; null when unknown or invalid.</summary>
    private static long? ReadVarInt(Stream file)
    {
        var first = file.ReadByte();
        if (first <= 0)
        {
            return null;
        }

        var length = System.Numerics.BitOperations.LeadingZeroCount((uint)first) - 24 + 1;
        long value = first & (0xFF >> length);
        var allOnes = value == (0xFF >> length);
        for (var i = 1; i < length; i++)
        {
            var next = file.ReadByte();
            if (next < 0)
            {
                return null;
            }

            value = (value << 8) | (uint)next;
            allOnes &= next == 0xFF;
        }

        return allOnes ? null : value;
    }
}
