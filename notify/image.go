package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/crierd/crier"
)

// Most services are handed the picture's URL and fetch it themselves;
// crier downloads it only for Pushover (which takes the bytes) and for
// email (which embeds them, so the reader's mail client loads nothing
// remote). A picture is a garnish: every failure to get one is logged and
// the push goes out as text.

// imageTimeout bounds one picture download, on top of the send's own
// timeout, so a slow image host cannot eat the time the push needs.
const imageTimeout = 5 * time.Second

// pushoverMaxAttachment is the Pushover API's attachment limit: 5 MB, in
// its documentation's bytes.
const pushoverMaxAttachment = 5_242_880

// picture is a downloaded image.
type picture struct {
	data        []byte
	contentType string // image/…, without parameters
	name        string // a file name for it, from its URL
}

// imageFetcher downloads an item's picture as politely as feeds are
// fetched (crier's User-Agent, a timeout, a size cap) and only from public
// addresses: the URL comes from a feed, and a feed must not be able to
// make crier knock on the machine's or its network's own services.
type imageFetcher struct {
	client    *http.Client
	userAgent string
	limit     int64
	timeout   time.Duration
}

// newImageFetcher builds a fetcher of pictures of at most limit bytes,
// through the proxy the environment names, like feeds. allowPrivate lets
// it reach loopback and private addresses (tests).
func newImageFetcher(userAgent string, limit int64, allowPrivate bool) *imageFetcher {
	return newImageFetcherVia(userAgent, limit, allowPrivate, http.ProxyFromEnvironment)
}

// newImageFetcherVia is newImageFetcher with the proxy chooser given.
func newImageFetcherVia(userAgent string, limit int64, allowPrivate bool, proxy func(*http.Request) (*url.URL, error)) *imageFetcher {
	if userAgent == "" {
		userAgent = "crier/" + crier.Version + " (+" + crier.ProjectURL + ")"
	}
	direct := &net.Dialer{Timeout: imageTimeout}
	guarded := &net.Dialer{Timeout: imageTimeout}
	if !allowPrivate {
		guarded.Control = refusePrivate
	}
	// The operator's proxy often sits on a private address: it is dialled
	// unguarded, and the address check applies to every other dial.
	var proxies sync.Map // "host:port" of proxies in use
	tr := &http.Transport{
		Proxy: func(r *http.Request) (*url.URL, error) {
			u, err := proxy(r)
			if u != nil {
				proxies.Store(proxyAddr(u), true)
			}
			return u, err
		},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if _, ok := proxies.Load(addr); ok {
				return direct.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   imageTimeout,
		ResponseHeaderTimeout: imageTimeout,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
	}
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirected to a %s: URL", req.URL.Scheme)
			}
			return nil
		},
	}
	return &imageFetcher{client: client, userAgent: userAgent, limit: limit, timeout: imageTimeout}
}

// proxyAddr is the host:port a proxy URL is dialled at.
func proxyAddr(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	return net.JoinHostPort(u.Hostname(), port)
}

// errPrivateAddress refuses a picture hosted on a non-public address.
var errPrivateAddress = errors.New("refusing a non-public address")

// refusePrivate is a net.Dialer Control that lets only public unicast
// addresses through (after DNS, so a name cannot smuggle one in).
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(ip) { // carrier-grade NAT
		return fmt.Errorf("%s: %w", ip, errPrivateAddress)
	}
	return nil
}

// fetch downloads the picture at raw. Any error means: send without it.
func (f *imageFetcher) fetch(ctx context.Context, raw string) (picture, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return picture{}, fmt.Errorf("image %q: not an http(s) URL", raw)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return picture{}, fmt.Errorf("image %s: %w", raw, err)
	}
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Accept", "image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8")
	resp, err := f.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return picture{}, fmt.Errorf("image %s: %w", raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return picture{}, fmt.Errorf("image %s: HTTP %d", raw, resp.StatusCode)
	}
	if resp.ContentLength > f.limit {
		return picture{}, fmt.Errorf("image %s: %d bytes, more than the %d allowed", raw, resp.ContentLength, f.limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, f.limit+1))
	if err != nil {
		return picture{}, fmt.Errorf("image %s: %w", raw, err)
	}
	if int64(len(data)) > f.limit {
		return picture{}, fmt.Errorf("image %s: more than the %d bytes allowed", raw, f.limit)
	}
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !strings.HasPrefix(ctype, "image/") {
		// Servers that send no type, or octet-stream, are common; the
		// bytes say what they are.
		ctype, _, _ = mime.ParseMediaType(http.DetectContentType(data))
	}
	if !strings.HasPrefix(ctype, "image/") || ctype == "image/svg+xml" {
		// SVG is a document that may carry script, and phones do not
		// show it as a notification picture.
		return picture{}, fmt.Errorf("image %s: %s is not a picture", raw, ctype)
	}
	return picture{data: data, contentType: ctype, name: pictureName(u, ctype)}, nil
}

// pictureName is a file name for a picture: its URL's last segment when
// that is a plain name, else "image" with an extension for its type.
func pictureName(u *url.URL, ctype string) string {
	name := path.Base(u.Path)
	if name != "" && name != "." && name != "/" && !strings.ContainsAny(name, "\"\\\r\n") && len(name) <= 100 && path.Ext(name) != "" {
		return name
	}
	ext := ".img"
	if exts, _ := mime.ExtensionsByType(ctype); len(exts) > 0 {
		ext = exts[0]
	}
	return "image" + ext
}

// itemImage is the picture of n a notifier should show, "" for none:
// only items carry one, and only when it is an http(s) URL.
func itemImage(n crier.Notification) string {
	if n.Kind != crier.KindItem {
		return ""
	}
	return webLink(n.Image)
}
