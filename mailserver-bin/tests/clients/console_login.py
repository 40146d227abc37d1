"""Logs in to the web console as a browser would (the login form's CSRF token and cookie, then
the session cookie) and prints the domains the dashboard lists, one per line; "refused" when
the login is refused.

Usage: console_login.py BASE_URL USER PASSWORD
"""
import http.cookiejar
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

base, user, password = sys.argv[1:4]
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def insecure():
    # The cookies are Secure: urllib sends them over http only when told they are not.
    for cookie in jar:
        cookie.secure = False


page = opener.open(base + "/console/login").read().decode()
insecure()
csrf = page.split('name="csrf" value="')[1].split('"')[0]
form = urllib.parse.urlencode({"csrf": csrf, "username": user, "password": password}).encode()
try:
    opener.open(base + "/console/login", form).read()
except urllib.error.HTTPError as e:
    print("refused", e.code)
    sys.exit(0)
insecure()
page = opener.open(base + "/console/").read().decode()
for domain in re.findall(r'<a href="/console/domains/([^"]+)">', page):
    print(domain)
