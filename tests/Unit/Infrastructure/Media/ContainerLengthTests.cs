using System.Buffers.Binary;
using CleanRealtime.Infrastructure.Media;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class ContainerLengthTests
{
    [Fact]
    public void Declared_RiffWithContinuationChunk_SumsEveryRiffChunk()
    {
        // OpenDML: 'RIFF AVI ' (20 bytes of data, then no pad) followed by 'RIFF AVIX' (9 bytes of data + 1 pad byte).
        byte[] file = [.. Riff("AVI ", 16), .. Riff("AVIX", 5), 0];

        Assert.Equal(file.Length - 1, Declared(file));
        Assert.True(Declared(file[..^5]) > file.Length - 5);
    }

    [Fact]
    public void Declared_IsoBoxes_EndAtTheLastBox()
    {
        byte[] file = [.. Box("ftyp", 12), .. Box("mdat", 100), .. Box("moov", 20)];

        Assert.Equal(file.Length, Declared(file));
        Assert.Equal(file.Length, Declared(file[..^10]));
    }

    [Fact]
    public void Declared_IsoBoxWithSizeZero_ExtendsToTheEndOfTheFile()
    {
        byte[] open = [.. Box("ftyp", 12), 0, 0, 0, 0, .. "mdat"u8, 1, 2, 3];

        Assert.Equal(open.Length, Declared(open));
    }

    [Fact]
    public void Declared_IsoFileWithATrailerThatIsNoBox_DeclaresOnlyItsBoxes()
    {
        byte[] file = [.. Box("ftyp", 12), .. Box("moov", 20), 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02, 0x03, 0x04, 0x05];

        Assert.Equal(file.Length - 9, Declared(file));
    }

    [Fact]
    public void Declared_MatroskaSegment_EndsWhereItsSizeSays()
    {
        byte[] file = [.. Matroska(segmentSize: [0x84]), 1, 2, 3, 4];

        Assert.Equal(file.Length, Declared(file));
        Assert.Equal(file.Length, Declared(file[..^2]));
    }

    [Fact]
    public void Declared_MatroskaSegmentOfUnknownSize_IsNull()
    {
        // A live recording writes the size as "unknown" (all value bits set): no length is declared.
        byte[] file = [.. Matroska(segmentSize: [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), 1, 2, 3];

        Assert.Null(Declared(file));
    }

    [Fact]
    public void Declared_UnknownFormat_IsNull()
    {
        Assert.Null(Declared("GIF89a-not-a-video"u8.ToArray()));
        Assert.Null(Declared([1, 2, 3]));
    }

    private static long? Declared(byte[] file)
    {
        using var stream = new MemoryStream(file);
        return ContainerLength.Declared(stream);
    }

    private static byte[] Riff(string kind, int payload)
    {
        var chunk = new byte[12 + payload];
        "RIFF"u8.CopyTo(chunk);
        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(4), 4 + payload);
        System.Text.Encoding.ASCII.GetBytes(kind).CopyTo(chunk, 8);
        return chunk;
    }

    private static byte[] Box(string type, int payload)
    {
        var box = new byte[8 + payload];
        BinaryPrimitives.WriteInt32BigEndian(box, box.Length);
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(box, 4);
        return box;
    }

    /// <summary>An EBML header with an empty body (size 0), then a Segment id and <paramref name="segmentSize"/> as given.</summary>
    private static byte[] Matroska(byte[] segmentSize) => [0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, .. segmentSize];
}
