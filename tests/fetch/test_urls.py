import pytest

from pipeline.fetch.urls import canonicalize, url_hash


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "HTTP://News.Example.COM:80/a?utm_source=rss&b=2&a=1#top",
            "http://news.example.com/a?a=1&b=2",
        ),
        ("https://x.example/s?fbclid=1&gclid=2&id=7", "https://x.example/s?id=7"),
        ("https://x.example/amp/2026/03/10/story.html", "https://x.example/2026/03/10/story.html"),
        ("https://x.example/news/story.amp.html", "https://x.example/news/story.html"),
        ("https://x.example/news/story/amp", "https://x.example/news/story"),
        ("https://x.example/news/story?amp=1", "https://x.example/news/story"),
        ("https://x.example", "https://x.example/"),
    ],
)
def test_canonicalize(raw: str, expected: str) -> None:
    assert canonicalize(raw) == expected


def test_url_hash_is_stable_and_short() -> None:
    assert url_hash("https://x.example/a") == url_hash("https://x.example/a")
    assert len(url_hash("https://x.example/a")) == 16
    assert url_hash("https://x.example/a") != url_hash("https://x.example/b")
