"""Settings for every environment; what differs between machines is read by config.env."""

import dj_database_url

from config.env import BASE_DIR, VAR_DIR, database_url, env_bool, env_str, secret_key

SECRET_KEY = secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "treebeard",
    "simple_history",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "shouwang.core",
    "shouwang.areas",
    "shouwang.accounts",
    "shouwang.policy",
    "shouwang.people",
    "shouwang.status",
    "shouwang.venues",
    "shouwang.testing",
    "shouwang.tracing",
    "shouwang.quarantine",
    "shouwang.zones",
    "shouwang.reports",
    "shouwang.response",
    "shouwang.web",
    "shouwang.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shouwang.web.context.navigation",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(database_url(), conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several web workers and the task worker write one file: queue writers instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA cache_size=-64000; PRAGMA temp_store=MEMORY;"
        ),
    }
    # Keep the connection per worker: opening one and reading the schema costs more than a door scan.
    DATABASES["default"]["CONN_MAX_AGE"] = 600
    DATABASES["default"]["TEST"] = {"NAME": env_str("SHOUWANG_TEST_DB", "") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after 8 idle hours (a duty shift) and when the browser closes.
SESSION_COOKIE_AGE = int(env_str("SESSION_COOKIE_AGE", str(8 * 3600)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)

# Five failed logins for one username from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = int(env_str("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "shouwang" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end packages are installed from the npm registry and copied here by scripts/build-assets.
STATICFILES_DIRS = [BASE_DIR / "build" / "assets"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if env_bool("SHOUWANG_TESTING", False):
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = VAR_DIR / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024

TASKS = {"default": {"BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend")}}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

# The business date ("YYYY-MM-DD"): empty means today; the demo pins it to a day of 2022 (see core/clock.py).
SHOUWANG_TODAY = env_str("SHOUWANG_TODAY", "")
SHOUWANG_TIME = env_str("SHOUWANG_TIME", "")  # HH:MM: with SHOUWANG_TODAY, the business clock starts there

# Uploaded workbooks waiting for confirmation (default VAR_DIR/imports).
SHOUWANG_IMPORTS_DIR = env_str("SHOUWANG_IMPORTS_DIR", "")

# Policy versions: the national files shipped with the code, then a county's local overrides.
SHOUWANG_POLICY_DIRS = [BASE_DIR / "shouwang" / "policy" / "versions", VAR_DIR / "policy"]

# The companion engine's memory-mapped scan partitions, shared by the web workers (default VAR_DIR/scan-index).
SHOUWANG_SCAN_INDEX_DIR = env_str("SHOUWANG_SCAN_INDEX_DIR", "")

# Background tiles for the area maps: a URL with {z}/{x}/{y} (Web Mercator, WGS 84, e.g. the county's own tile server).
# Empty (the default): the maps draw the areas' shapes alone and load nothing from outside.
SHOUWANG_MAP_TILES = env_str("SHOUWANG_MAP_TILES", "")
