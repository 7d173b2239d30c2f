// The lockfile pins an AWS SDK release that supports Node 20; its notice about future releases is noise in test logs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
